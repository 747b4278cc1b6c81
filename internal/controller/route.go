package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// routeIndex indexes Rollouts by the HTTPRoute their traffic routing names.
const routeIndex = "spec.trafficRouting.httpRoute"

// observeRoute reads the HTTPRoute a canary's traffic routing names, and
// what weight it gives the preview Service.
func (r *Reconciler) observeRoute(ctx context.Context, b *v1alpha1.Rollout, w *world) error {
	name := bluegreen.RouteOf(&b.Spec)
	if name == "" {
		return nil
	}
	var route gatewayv1.HTTPRoute
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, &route)
	switch {
	case meta.IsNoMatchError(err):
		w.Route.Problem = "the Gateway API is not installed in this cluster (no HTTPRoute kind in gateway.networking.k8s.io/v1): install its CRDs"
		return nil
	case apierrors.IsNotFound(err):
		w.Route.Problem = fmt.Sprintf("not found in namespace %s; create it with a rule whose backendRefs are Services %s (weight 100) and %s (weight 0)",
			b.Namespace, b.Spec.ActiveService, b.Spec.PreviewService)
		return nil
	case err != nil:
		return fmt.Errorf("get HTTPRoute %s: %w", name, err)
	}
	w.route = &route
	w.Route = routeState(&route, b)
	return nil
}

// routeState is the preview Service's weight in the rules that send to the
// rollout's Services, or why the route cannot carry one.
func routeState(route *gatewayv1.HTTPRoute, b *v1alpha1.Rollout) bluegreen.RouteState {
	active, preview := b.Spec.ActiveService, b.Spec.PreviewService
	st := bluegreen.RouteState{Weight: -1}
	rules := 0
	for i, rule := range route.Spec.Rules {
		a, p := backendRef(rule.BackendRefs, b.Namespace, active), backendRef(rule.BackendRefs, b.Namespace, preview)
		if a == nil && p == nil {
			continue
		}
		if a == nil || p == nil {
			missing := active
			if p == nil {
				missing = preview
			}
			return bluegreen.RouteState{Problem: fmt.Sprintf("rules[%d] sends to one of Services %s and %s but not to %s: list both among its backendRefs", i, active, preview, missing)}
		}
		weight := int32(-1)
		if sum := weightOf(a) + weightOf(p); sum > 0 {
			weight = (200*weightOf(p) + sum) / (2 * sum)
		}
		if rules == 0 {
			st.Weight = weight
		} else if st.Weight != weight {
			st.Weight = -1
		}
		rules++
	}
	if rules == 0 {
		return bluegreen.RouteState{Problem: fmt.Sprintf("no rule sends to Services %s and %s: give one both as backendRefs", active, preview)}
	}
	return st
}

// backendRef finds the backendRef naming Service name in namespace ns.
func backendRef(refs []gatewayv1.HTTPBackendRef, ns, name string) *gatewayv1.HTTPBackendRef {
	for i := range refs {
		ref := &refs[i].BackendObjectReference
		if (ref.Group == nil || *ref.Group == "") && (ref.Kind == nil || *ref.Kind == "Service") &&
			(ref.Namespace == nil || string(*ref.Namespace) == ns) && string(ref.Name) == name {
			return &refs[i]
		}
	}
	return nil
}

// weightOf is a backendRef's weight (the Gateway API's default is 1).
func weightOf(ref *gatewayv1.HTTPBackendRef) int32 {
	if ref.Weight == nil {
		return 1
	}
	return *ref.Weight
}

// setRouteWeight gives the preview Service weight and the active one the
// rest, in every rule that sends to both; nothing else of the route
// changes. The update is conditional on the route's resourceVersion.
func (r *Reconciler) setRouteWeight(ctx context.Context, b *v1alpha1.Rollout, route *gatewayv1.HTTPRoute, weight int32) error {
	updated := route.DeepCopy()
	for i := range updated.Spec.Rules {
		refs := updated.Spec.Rules[i].BackendRefs
		a, p := backendRef(refs, b.Namespace, b.Spec.ActiveService), backendRef(refs, b.Namespace, b.Spec.PreviewService)
		if a == nil || p == nil {
			continue
		}
		a.Weight, p.Weight = new(100-weight), new(weight)
	}
	if equality.Semantic.DeepEqual(route.Spec, updated.Spec) {
		return nil
	}
	if err := r.Client.Update(ctx, updated, client.FieldOwner(bluegreen.FieldOwner)); err != nil {
		return fmt.Errorf("set HTTPRoute %s weights: %w", route.Name, err)
	}
	return nil
}
