package bluegreen

import (
	"fmt"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// A canary with traffic routing carries its weight on an HTTPRoute: the
// active Service keeps selecting the stable color alone, the preview
// Service the canary color, and the route's weights split the traffic
// between the two Services. The weight goes up only once the step's canary
// pods are ready behind the preview Service, and a step is done once the
// route is observed at its weight. Outside the steps (before the first
// weight, after the switch, after an abort, in steady state) the route's
// weight is 0; an aborted canary is scaled down only once the route is
// observed back at 0.

// RouteOf is the HTTPRoute a canary's traffic routing names ("" for none).
func RouteOf(spec *v1alpha1.RolloutSpec) string {
	if c := spec.Strategy.Canary; c != nil && c.TrafficRouting != nil && c.TrafficRouting.GatewayAPI != nil {
		return c.TrafficRouting.GatewayAPI.HTTPRoute
	}
	return ""
}

// RoutedCanaryPods is how many canary pods take weight percent of the
// traffic when a router splits it: weight percent of replicas, rounded
// up, at least one.
func RoutedCanaryPods(weight, replicas int32) int32 {
	if weight <= 0 || replicas <= 0 {
		return 0
	}
	return min(replicas, max(1, (weight*replicas+99)/100))
}

// routeUsable passes unless the route cannot carry a weight; the canary
// then waits, Degraded, and says why.
func (d *decider) routeUsable(v1alpha1.Color) bool {
	if d.settings.route == "" || d.observed.Route.Problem == "" {
		return true
	}
	d.phase, d.reason = v1alpha1.PhaseDegraded, v1alpha1.ReasonTrafficRoutingError
	d.message = fmt.Sprintf("HTTPRoute %s: %s", d.settings.route, d.observed.Route.Problem)
	return false
}

// routeTo asks for the route at weight percent; it reports whether the
// route is observed there (always, without traffic routing).
func (d *decider) routeTo(weight int32) bool {
	if d.settings.route == "" {
		return true
	}
	d.plan.RouteWeight = &weight
	return d.observed.Route.Weight == weight
}

// routedTo sets step i's weight on the route and reports whether the
// route is seen there (always, without a route or for a rolling batch).
func (d *decider) routedTo(i int, step *Step) bool {
	if d.settings.route == "" || step.Weight == nil || d.routeTo(*step.Weight) {
		return true
	}
	d.progressing(v1alpha1.ReasonSettingWeight, fmt.Sprintf("step %d/%d: HTTPRoute %s to %d%%", i+1, len(d.settings.steps), d.settings.route, *step.Weight))
	return false
}

// holdRoute keeps the route at the weight it carries (a `promote --full`
// does not raise it before the pods are there).
func (d *decider) holdRoute() {
	if d.settings.route != "" && d.observed.Route.Problem == "" {
		d.routeTo(max(d.observed.Route.Weight, 0))
	}
}

// routeHeld reports whether the route still gives the preview Service a
// weight, which must go before the canary pods do.
func (d *decider) routeHeld() bool {
	return d.settings.route != "" && d.observed.Route.Problem == "" && d.observed.Route.Weight != 0
}

// routeAtRest sets the route's weight back to 0 unless this pass asked
// for another (finish calls it: only the steps hold a weight).
func (d *decider) routeAtRest() {
	if d.plan.RouteWeight == nil && d.routeHeld() {
		d.routeTo(0)
	}
}

// weighedRouted records the weight a route carries: the preview Service's
// share, with the canary pods behind it beside the active Service's.
func (d *decider) weighedRouted(cs *v1alpha1.StepStatus, next v1alpha1.Color) {
	o := d.observed
	cs.Route = d.settings.route
	cs.CanaryPods = 0
	if o.Preview.Color == next {
		cs.CanaryPods = o.Preview.ReadyEndpoints
	}
	cs.TotalPods = o.Active.ReadyEndpoints + cs.CanaryPods
	cs.Weight = max(o.Route.Weight, 0)
	if cs.CanaryPods == 0 || o.Route.Problem != "" {
		cs.Weight = 0
	}
}

// Achieved says what weight a canary has reached, e.g. "25% (1 of 4
// pods)" or, with traffic routing, "25% by HTTPRoute api (1 canary pod
// beside 3)".
func Achieved(cs *v1alpha1.StepStatus) string {
	if cs.Route == "" {
		return WeightOf(cs.CanaryPods, cs.TotalPods)
	}
	return fmt.Sprintf("%d%% by HTTPRoute %s (%d canary pods beside %d)", cs.Weight, cs.Route, cs.CanaryPods, cs.TotalPods-cs.CanaryPods)
}
