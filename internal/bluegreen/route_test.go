package bluegreen

import (
	"strings"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// routedWorld is a canary world whose weights an HTTPRoute carries: 25%,
// a pause for promote, 50%, then the switch.
func routedWorld() (*testWorld, string) {
	w, v1 := canaryWorld(
		v1alpha1.CanaryStep{SetWeight: new(int32(25))},
		v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}},
		v1alpha1.CanaryStep{SetWeight: new(int32(50))},
	)
	w.o.Spec.PreviewService = "api-preview"
	w.o.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.TrafficRouting{GatewayAPI: &v1alpha1.GatewayAPIRouting{HTTPRoute: "api"}}
	return w, v1
}

// With an HTTPRoute the canary runs setWeight percent of the replicas
// (rounded up) behind the preview Service, the active Service stays on the
// stable color alone, and each weight is written to the route only once
// the canary pods for it are ready; a step is done once the route is seen
// at its weight. After the last step the active Service switches to the
// canary color first, and only then does the route go back to 0.
func TestRoutedCanaryWeightsFollowReadyPods(t *testing.T) {
	w, _ := routedWorld()
	v2 := w.image("api:v2")
	p := w.decide()
	if got := p.Colors[green]; got.Revision != v2 || got.Replicas != 1 {
		t.Fatalf("canary plan %+v; want v2 with 1 pod (25%% of 3, rounded up)", got)
	}
	if p.RouteWeight != nil && *p.RouteWeight != 0 {
		t.Fatalf("route weight %d before any canary pod is ready; want it left at 0", *p.RouteWeight)
	}
	for range 4 {
		p = w.step(time.Second)
		if p.ActiveBoth || (p.ActiveColor != "" && p.ActiveColor != blue) {
			t.Fatalf("active Service planned on %q (both %t); want the stable color alone", p.ActiveColor, p.ActiveBoth)
		}
	}
	cs := p.Status.Canary
	if p.Status.Phase != v1alpha1.PhasePaused || w.o.Route.Weight != 25 || cs.Weight != 25 || cs.Route != "api" || cs.CanaryPods != 1 || cs.TotalPods != 4 {
		t.Fatalf("phase %s, route at %d, status %+v; want Paused with the route at 25%% (1 canary pod beside 3)", p.Status.Phase, w.o.Route.Weight, cs)
	}
	if !strings.Contains(p.Status.Message, "25% by HTTPRoute api (1 canary pods beside 3)") {
		t.Fatalf("message %q; want the achieved weight by the route", p.Status.Message)
	}

	w.o.Status.Canary.PromotedStep = new(int32(1))
	p = w.decide()
	if got := p.Colors[green]; got.Replicas != 2 || p.RouteWeight == nil || *p.RouteWeight != 25 {
		t.Fatalf("canary %+v, route %v at 50%% before its pods are ready; want 2 pods and the route held at 25", got, p.RouteWeight)
	}
	w.converge(p)
	p = w.step(time.Second)
	if p.RouteWeight == nil || *p.RouteWeight != 50 || p.ActiveColor == green {
		t.Fatalf("route %v, active %q once the 2 pods are ready; want the route at 50, the switch not yet", p.RouteWeight, p.ActiveColor)
	}
	p = w.step(time.Second)
	if p.Colors[green].Replicas != 3 || p.RouteWeight == nil || *p.RouteWeight != 50 {
		t.Fatalf("after the last step: canary %+v, route %v; want full scale, the route held at 50", p.Colors[green], p.RouteWeight)
	}
	p = w.step(time.Second)
	if p.ActiveColor != green || p.RouteWeight == nil || *p.RouteWeight != 50 {
		t.Fatalf("active %q, route %v; want the switch to green with the route still at 50", p.ActiveColor, p.RouteWeight)
	}
	p = w.step(time.Second)
	if p.RouteWeight == nil || *p.RouteWeight != 0 || p.Status.StableRevision != v2 {
		t.Fatalf("route %v, stable %s after the switch; want the route back at 0, v2 stable", p.RouteWeight, p.Status.StableRevision)
	}
	if p = w.step(time.Second); p.RouteWeight != nil {
		t.Fatalf("route written again (%d) once at rest", *p.RouteWeight)
	}
}

// An abort takes the weight off the route before the canary scales down:
// the first pass sets the route to 0 and keeps the canary pods; once the
// route is seen at 0, they go.
func TestRoutedCanaryAbortRestoresTheRouteFirst(t *testing.T) {
	w, v1 := routedWorld()
	v2 := w.image("api:v2")
	for range 5 {
		w.step(time.Second)
	}
	if w.o.Route.Weight != 25 {
		t.Fatalf("route at %d; want 25 at the pause", w.o.Route.Weight)
	}
	w.o.Status.AbortedRevision, w.o.Status.AbortReason = v2, v1alpha1.ReasonUserAbort
	p := w.decide()
	if p.RouteWeight == nil || *p.RouteWeight != 0 {
		t.Fatalf("route %v on abort; want 0", p.RouteWeight)
	}
	if cp, ok := p.Colors[green]; ok && cp.Replicas < 1 {
		t.Fatalf("canary planned at %d replicas while the route still sends it 25%%; want it kept until the route is at 0", cp.Replicas)
	}
	if p.Status.Phase != v1alpha1.PhaseAborted || !strings.Contains(p.Status.Message, "HTTPRoute api") {
		t.Fatalf("phase %s message %q; want Aborted, saying the route goes first", p.Status.Phase, p.Status.Message)
	}
	w.converge(p)
	p = w.step(time.Second)
	if p.Colors[green].Replicas != 0 || p.Colors[blue].Revision != v1 || p.Colors[blue].Replicas != 3 {
		t.Fatalf("once the route is at 0: canary %+v, stable %+v; want the canary at 0, v1 at 3", p.Colors[green], p.Colors[blue])
	}
}

// A route that cannot carry the weight stops the canary before any pod
// starts, Degraded with the reason; nothing is written to it.
func TestRoutedCanaryWaitsOnAnUnusableRoute(t *testing.T) {
	w, _ := routedWorld()
	w.o.Route = RouteState{Problem: "not found in namespace shop"}
	w.image("api:v2")
	p := w.decide()
	if p.Status.Phase != v1alpha1.PhaseDegraded || p.RouteWeight != nil || p.Colors[green].Replicas != 0 {
		t.Fatalf("phase %s, route %v, canary %+v; want Degraded, nothing written, no canary pod", p.Status.Phase, p.RouteWeight, p.Colors[green])
	}
	if c := p.Status.Conditions; !strings.Contains(p.Status.Message, "HTTPRoute api: not found in namespace shop") || len(c) == 0 {
		t.Fatalf("message %q; want the route's problem", p.Status.Message)
	}
}

func TestRoutedCanaryPods(t *testing.T) {
	for _, tt := range []struct{ weight, replicas, want int32 }{
		{25, 3, 1}, {50, 3, 2}, {1, 10, 1}, {10, 10, 1}, {11, 10, 2}, {99, 3, 3}, {0, 3, 0}, {30, 0, 0},
	} {
		if got := RoutedCanaryPods(tt.weight, tt.replicas); got != tt.want {
			t.Errorf("RoutedCanaryPods(%d, %d) = %d; want %d", tt.weight, tt.replicas, got, tt.want)
		}
	}
}
