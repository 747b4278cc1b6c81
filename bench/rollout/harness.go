package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/objects"

	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
)

const ns = "bench"

type harness struct {
	c        client.WithWatch
	cs       kubernetes.Interface
	rollouts bluegreen.Rollouts
}

func newHarness(ctx context.Context, cluster *localcluster.Cluster) (*harness, error) {
	if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cluster.RESTConfig)
	if err != nil {
		return nil, err
	}
	h := &harness{c: c, cs: cs, rollouts: bluegreen.Rollouts{Client: c}}
	for _, n := range []string{ns, scaleNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *harness) service(ctx context.Context, namespace, name, app string) error {
	return h.c.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
	})
}

func newRollout(namespace, name string, replicas int32, mutate func(*v1alpha1.Rollout)) *v1alpha1.Rollout {
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.RolloutSpec{
			Replicas:      &replicas,
			Selector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			ActiveService: name,
			Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
				AutoPromotion: &v1alpha1.AutoPromotion{Enabled: true}, ScaleDownDelaySeconds: new(int32(2)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "agentic-rag/api:0"}}},
			},
		},
	}
	if mutate != nil {
		mutate(b)
	}
	return b
}

// state is what the watches saw of one Rollout, its color Deployments,
// pods and active Service; at is when the last event arrived.
type state struct {
	at          time.Time
	activeColor string
	both        bool
	slices      map[string]*discoveryv1.EndpointSlice
	pods        map[string]*corev1.Pod
	deployments map[v1alpha1.Color]*appsv1.Deployment
	ro          *v1alpha1.Rollout
	// rev is the revision of ro's template (revGen: of which generation).
	rev    string
	revGen int64
}

// observer keeps state up to date from watch events, and records when each
// registered expectation first held.
type observer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	s       state
	pending []*expectation
}

// expectation is a condition registered before the action that should make
// it hold, so the event that did is timed exactly.
type expectation struct {
	what string
	cond func(*state) bool
	at   time.Time
}

func (h *harness) observe(ctx context.Context, name string) (*observer, error) {
	o := &observer{s: state{slices: map[string]*discoveryv1.EndpointSlice{}, pods: map[string]*corev1.Pod{},
		deployments: map[v1alpha1.Color]*appsv1.Deployment{}}}
	o.cond = sync.NewCond(&o.mu)
	watches := []func() (watch.Interface, error){
		func() (watch.Interface, error) {
			return h.cs.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		},
		func() (watch.Interface, error) {
			return h.cs.DiscoveryV1().EndpointSlices(ns).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		},
		func() (watch.Interface, error) {
			return h.cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: bluegreen.LabelName + "=" + name})
		},
		func() (watch.Interface, error) {
			return h.cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{LabelSelector: bluegreen.LabelName + "=" + name})
		},
		func() (watch.Interface, error) {
			var list v1alpha1.RolloutList
			return h.c.Watch(ctx, &list, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
		},
	}
	for _, start := range watches {
		w, err := start()
		if err != nil {
			return nil, err
		}
		go o.consume(w)
	}
	return o, nil
}

func (o *observer) consume(w watch.Interface) {
	for ev := range w.ResultChan() {
		now := time.Now()
		o.mu.Lock()
		o.s.at = now
		switch obj := ev.Object.(type) {
		case *corev1.Service:
			o.s.activeColor = obj.Spec.Selector[bluegreen.LabelColor]
			o.s.both = o.s.activeColor == "" && obj.Spec.Selector[bluegreen.LabelName] != ""
		case *appsv1.Deployment:
			o.s.deployments[v1alpha1.Color(obj.Labels[bluegreen.LabelColor])] = obj
		case *discoveryv1.EndpointSlice:
			if ev.Type == watch.Deleted {
				delete(o.s.slices, obj.Name)
			} else {
				o.s.slices[obj.Name] = obj
			}
		case *corev1.Pod:
			if ev.Type == watch.Deleted {
				delete(o.s.pods, obj.Name)
			} else {
				o.s.pods[obj.Name] = obj
			}
		case *v1alpha1.Rollout:
			o.s.ro = obj
			if obj.Generation != o.s.revGen {
				o.s.rev, o.s.revGen = bluegreen.TemplateRevision(&obj.Spec.Template), obj.Generation
			}
		}
		for _, e := range o.pending {
			if e.at.IsZero() && e.cond(&o.s) {
				e.at = now
			}
		}
		o.mu.Unlock()
		o.cond.Broadcast()
	}
}

// expect registers cond; wait on the result after triggering the action.
func (o *observer) expect(what string, cond func(*state) bool) *expectation {
	e := &expectation{what: what, cond: cond}
	o.mu.Lock()
	defer o.mu.Unlock()
	if cond(&o.s) {
		e.at = o.s.at
	}
	o.pending = append(o.pending, e)
	return e
}

// wait returns when the expectation first held (the arrival time of the
// event that made it hold).
func (o *observer) wait(ctx context.Context, e *expectation) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, o.cond.Broadcast)
	defer stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { o.pending = slices.DeleteFunc(o.pending, func(x *expectation) bool { return x == e }) }()
	for e.at.IsZero() {
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("waiting for %s: %w (%s)", e.what, ctx.Err(), o.s.describe())
		}
		o.cond.Wait()
	}
	return e.at, nil
}

// waitAll waits for each expectation and returns when each first held.
func waitAll(ctx context.Context, o *observer, es ...*expectation) ([]time.Time, error) {
	out := make([]time.Time, len(es))
	for i, e := range es {
		t, err := o.wait(ctx, e)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// when waits until cond holds; for conditions not tied to a timed action.
func (o *observer) when(ctx context.Context, what string, cond func(*state) bool) (time.Time, error) {
	return o.wait(ctx, o.expect(what, cond))
}

// newPods counts pods of a color running rev, ready or not, not deleted.
func (s *state) newPods(color, rev string) int {
	n := 0
	for _, p := range s.pods {
		if p.Labels[bluegreen.LabelColor] == color && p.Labels[bluegreen.LabelRevision] == rev && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// readyPods counts ready pods of a color running rev.
func (s *state) readyPods(color, rev string) int {
	n := 0
	for _, p := range s.pods {
		if p.Labels[bluegreen.LabelColor] == color && p.Labels[bluegreen.LabelRevision] == rev && objects.PodReady(p) {
			n++
		}
	}
	return n
}

// serving: the active Service selects color and its EndpointSlices list n
// ready endpoints, all of pods of that color running rev.
func (s *state) serving(color, rev string, n int) bool {
	if s.activeColor != color {
		return false
	}
	ready := 0
	for _, sl := range s.slices {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.TargetRef == nil {
				continue
			}
			p := s.pods[ep.TargetRef.Name]
			if p == nil || p.Labels[bluegreen.LabelColor] != color || p.Labels[bluegreen.LabelRevision] != rev {
				return false
			}
			ready++
		}
	}
	return ready == n
}

// generation: the Rollout's spec is at generation gen or later (the watch
// event of a spec change: the moment it was patched, as an observer sees it).
func (s *state) generation(gen int64) bool { return s.ro != nil && s.ro.Generation >= gen }

// newReady: the spec is at gen and n pods of color run its template, ready.
func (s *state) newReady(gen int64, color string, n int) bool {
	return s.generation(gen) && s.readyPods(color, s.rev) == n
}

// scaled: color's Deployment runs the template of gen with n replicas.
func (s *state) scaled(gen int64, color v1alpha1.Color, n int32) bool {
	d := s.deployments[color]
	return s.generation(gen) && d != nil && d.Annotations[bluegreen.AnnotationRevision] == s.rev &&
		d.Spec.Replicas != nil && *d.Spec.Replicas == n
}

// listedReady counts the ready endpoints of the active Service that are
// pods of color running rev.
func (s *state) listedReady(color, rev string) int {
	n := 0
	for _, sl := range s.slices {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.TargetRef == nil {
				continue
			}
			if p := s.pods[ep.TargetRef.Name]; p != nil && p.Labels[bluegreen.LabelColor] == color && p.Labels[bluegreen.LabelRevision] == rev {
				n++
			}
		}
	}
	return n
}

func (h *harness) get(ctx context.Context, namespace, name string) (*v1alpha1.Rollout, error) {
	var b v1alpha1.Rollout
	err := h.c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &b)
	return &b, err
}

// setImage patches the first container's image (bluegreen.Rollouts: a
// JSON patch, so no conflict to retry) and returns the new generation.
func (h *harness) setImage(ctx context.Context, namespace, name, image string) (string, error) {
	b, err := h.get(ctx, namespace, name)
	if err != nil {
		return "", err
	}
	mutated, ops, err := bluegreen.SetImages(b, map[string]string{b.Spec.Template.Spec.Containers[0].Name: image})
	if err != nil {
		return "", err
	}
	if err := h.rollouts.Patch(ctx, b, mutated, ops); err != nil {
		return "", err
	}
	return bluegreen.TemplateRevision(&mutated.Spec.Template), nil
}

// observed: the controller has seen generation gen.
func (s *state) observed(gen int64) bool {
	return s.ro != nil && s.ro.Status.ObservedGeneration >= gen
}

// nextGeneration is the generation the next spec change will have.
func (h *harness) nextGeneration(ctx context.Context, name string) (int64, error) {
	b, err := h.get(ctx, ns, name)
	if err != nil {
		return 0, err
	}
	return b.Generation + 1, nil
}

func report(what string, ms []float64) {
	if len(ms) == 0 {
		fmt.Printf("  %-44s no samples\n", what)
		return
	}
	fmt.Printf("  %-44s n=%d  p50 %.1f  p99 %.1f  max %.1f\n", what, len(ms), stats.Percentile(ms, 0.5), stats.Percentile(ms, 0.99), slices.Max(ms))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// describe summarizes the state for an error message.
func (s *state) describe() string {
	out := fmt.Sprintf("active selects %q", s.activeColor)
	if s.ro != nil {
		out += fmt.Sprintf("; %s: %s (%s), stable %s/%s, abort %q", s.ro.Name, s.ro.Status.Phase, s.ro.Status.Message,
			s.ro.Status.StableColor, s.ro.Status.StableRevision, s.ro.Status.AbortedRevision)
	}
	for _, sl := range s.slices {
		for _, ep := range sl.Endpoints {
			if ep.TargetRef != nil {
				p := s.pods[ep.TargetRef.Name]
				color, rev := "?", "?"
				if p != nil {
					color, rev = p.Labels[bluegreen.LabelColor], p.Labels[bluegreen.LabelRevision]
				}
				out += fmt.Sprintf("; endpoint %s %s/%s ready=%v", ep.TargetRef.Name, color, rev, ep.Conditions.Ready != nil && *ep.Conditions.Ready)
			}
		}
	}
	return out
}
