package release

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Helm's ownership annotations, on every object of a release.
const (
	annotationName      = "meta.helm.sh/release-name"
	annotationNamespace = "meta.helm.sh/release-namespace"
)

// ReleaseOf names the release obj belongs to by Helm's ownership
// annotations (ok is false when it belongs to none in its namespace).
func ReleaseOf(obj metav1.Object) (t Target, ok bool) {
	name := obj.GetAnnotations()[annotationName]
	if name == "" || obj.GetAnnotations()[annotationNamespace] != obj.GetNamespace() {
		return Target{}, false
	}
	return Target{Namespace: obj.GetNamespace(), Name: name}, true
}

// RolloutsOf lists the release's Rollouts, by name.
func RolloutsOf(ctx context.Context, c client.Client, t Target) ([]v1alpha1.Rollout, error) {
	var list v1alpha1.RolloutList
	if err := c.List(ctx, &list, client.InNamespace(t.Namespace)); err != nil {
		return nil, fmt.Errorf("rollouts in %s: %w", t.Namespace, err)
	}
	var out []v1alpha1.Rollout
	for _, b := range list.Items {
		if r, ok := ReleaseOf(&b); ok && r.Name == t.Name {
			out = append(out, b)
		}
	}
	return out, nil
}
