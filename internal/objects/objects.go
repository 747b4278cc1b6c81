// Package objects names Kubernetes objects (Ref), reads many of them live
// with one LIST per kind and namespace (Live), and says which of their
// fields a drift check or a diff leaves alone (IgnoreRule) and which
// workloads an HPA scales (ScaledByHPA): what release, drift and envconfig
// share; and whether a pod serves (PodReady).
package objects

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Ref names an object.
type Ref struct {
	schema.GroupVersionKind
	Namespace, Name string
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) Ref {
	return Ref{GroupVersionKind: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Live reads the live state of many objects with one LIST per kind and
// namespace instead of one GET per object.
type Live struct {
	c     client.Client
	mu    sync.Mutex
	lists map[listKey]*listResult
}

type listKey struct {
	gvk schema.GroupVersionKind
	ns  string
}

type listResult struct {
	once  sync.Once
	items map[string]*unstructured.Unstructured
	err   error
}

// NewLive reads through c.
func NewLive(c client.Client) *Live {
	return &Live{c: c, lists: map[listKey]*listResult{}}
}

// Get returns the live object, or nil when it does not exist. A kind the
// API server does not serve (a CRD not installed) is reported as missing.
func (l *Live) Get(ctx context.Context, r Ref) (*unstructured.Unstructured, error) {
	k := listKey{r.GroupVersionKind, r.Namespace}
	l.mu.Lock()
	res, ok := l.lists[k]
	if !ok {
		res = &listResult{}
		l.lists[k] = res
	}
	l.mu.Unlock()
	res.once.Do(func() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(r.GroupVersionKind.GroupVersion().WithKind(r.Kind + "List"))
		var opts []client.ListOption
		if r.Namespace != "" {
			opts = append(opts, client.InNamespace(r.Namespace))
		}
		if err := l.c.List(ctx, list, opts...); err != nil {
			if !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
				res.err = fmt.Errorf("list %s in %q: %w", r.Kind, r.Namespace, err)
			}
			return
		}
		res.items = make(map[string]*unstructured.Unstructured, len(list.Items))
		for i := range list.Items {
			res.items[list.Items[i].GetName()] = &list.Items[i]
		}
	})
	if res.err != nil {
		return nil, res.err
	}
	return res.items[r.Name], nil
}

// PodReady reports whether a pod is Ready and not terminating.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Scaled names a workload an HPA scales.
type Scaled struct{ Kind, Name string }

// ScaledByHPA are the workloads the HorizontalPodAutoscalers among objs scale.
func ScaledByHPA(objs []*unstructured.Unstructured) []Scaled {
	var out []Scaled
	for _, o := range objs {
		if o.GetKind() != "HorizontalPodAutoscaler" || o.GroupVersionKind().Group != "autoscaling" {
			continue
		}
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "kind")
		name, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
		if kind != "" && name != "" {
			out = append(out, Scaled{kind, name})
		}
	}
	return out
}
