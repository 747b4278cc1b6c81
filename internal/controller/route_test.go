package controller_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// routed makes a scenario's rollout a canary whose weights the HTTPRoute
// "api" carries: 25%, a pause for promote, 50%, a pause for promote.
func routed(b *v1alpha1.Rollout) {
	b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
		ScaleDownDelaySeconds: new(int32(600)),
		TrafficRouting:        &v1alpha1.TrafficRouting{GatewayAPI: &v1alpha1.GatewayAPIRouting{HTTPRoute: "api"}},
		Steps: []v1alpha1.CanaryStep{
			{SetWeight: new(int32(25))},
			{Pause: &v1alpha1.CanaryPause{}},
			{SetWeight: new(int32(50))},
			{Pause: &v1alpha1.CanaryPause{}},
		},
	}}
}

// createRoute creates the HTTPRoute "api" with one rule whose backendRefs
// are the given Services, weighted as given.
func (s *scenario) createRoute(backends map[string]int32) {
	s.t.Helper()
	rule := gatewayv1.HTTPRouteRule{}
	for _, name := range []string{"api", "api-preview"} {
		if w, ok := backends[name]; ok {
			rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: new(gatewayv1.PortNumber(8000))},
				Weight:                 new(w),
			}})
		}
	}
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: s.env.Namespace},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gateway"}}},
			Rules:           []gatewayv1.HTTPRouteRule{rule},
		},
	}
	if err := s.c.Create(s.t.Context(), route); err != nil {
		s.t.Fatal(err)
	}
}

// route reads the HTTPRoute "api".
func (s *scenario) route() *gatewayv1.HTTPRoute {
	s.t.Helper()
	var r gatewayv1.HTTPRoute
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: "api"}, &r); err != nil {
		s.t.Fatal(err)
	}
	return &r
}

// weights are the route's backendRef weights as "api/api-preview".
func weights(r *gatewayv1.HTTPRoute) string {
	var out []string
	for _, ref := range r.Spec.Rules[0].BackendRefs {
		w := "unset"
		if ref.Weight != nil {
			w = strconv.Itoa(int(*ref.Weight))
		}
		out = append(out, w)
	}
	return strings.Join(out, "/")
}

// A canary with trafficRouting on the real API server, the Gateway API's
// CRDs installed: the active Service stays on the stable color alone while
// the route carries 25% (1 canary pod of 3 behind the preview Service),
// then 50% (2 pods); after the last step the active Service switches to
// the canary color and the route goes back to 100/0. The next canary,
// aborted at 25%, has its weight taken off the route before its pods are
// scaled to zero (the route's write comes first in the API server's
// order). The invariant watcher runs throughout.
func TestCanaryHTTPRouteWeightsSetAndRestored(t *testing.T) {
	s := newScenario(t)
	s.createRoute(map[string]int32{"api": 100, "api-preview": 0})
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", routed))
	s.healthyOn(v1, 30*time.Second)
	s.watchInvariants()
	rollouts := bluegreen.Rollouts{Client: s.c}
	ready := map[string]string{localcluster.AnnotationReadyAfter: "1s"}
	pausedAt := func(rev string, step, weight int32) func(*v1alpha1.Rollout) bool {
		return func(b *v1alpha1.Rollout) bool {
			cs := b.Status.Canary
			return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == rev && cs != nil && cs.Step == step && cs.Weight == weight
		}
	}

	v2 := s.setImage("agentic-rag/api:2.0.0", ready)
	b := s.waitFor("paused at 25%", 30*time.Second, pausedAt(v2, 1, 25))
	if got := weights(s.route()); got != "75/25" {
		t.Fatalf("route weights %s at 25%%; want 75/25", got)
	}
	if c := s.serviceColor("api"); c != v1alpha1.Blue || !s.selects("api-preview", v1alpha1.Green) || s.replicas(v1alpha1.Green) != 1 || s.replicas(v1alpha1.Blue) != 3 {
		t.Fatalf("active on %q, preview on %q, green %d, blue %d replicas; want blue alone active, 1 canary pod behind the preview, 3 stable",
			c, s.serviceColor("api-preview"), s.replicas(v1alpha1.Green), s.replicas(v1alpha1.Blue))
	}
	if cs := b.Status.Canary; cs.Route != "api" || cs.CanaryPods != 1 || cs.TotalPods != 4 {
		t.Fatalf("canary status %+v; want route api, 1 canary pod beside 3", cs)
	}
	if _, err := rollouts.Promote(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	b = s.waitFor("paused at 50%", 30*time.Second, pausedAt(v2, 3, 50))
	if got := weights(s.route()); got != "50/50" || s.replicas(v1alpha1.Green) != 2 || s.serviceColor("api") != v1alpha1.Blue {
		t.Fatalf("route %s, %d canary pods, active on %q at 50%%; want 50/50, 2 pods, blue alone", got, s.replicas(v1alpha1.Green), s.serviceColor("api"))
	}
	if _, err := rollouts.Promote(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	s.healthyOn(v2, 30*time.Second)
	if !s.selects("api", v1alpha1.Green) {
		t.Fatalf("active Service on %q after the last step; want green", s.serviceColor("api"))
	}
	s.waitFor("route back to 100/0", 10*time.Second, func(*v1alpha1.Rollout) bool { return weights(s.route()) == "100/0" })

	v3 := s.setImage("agentic-rag/api:3.0.0", ready)
	b = s.waitFor("v3 paused at 25%", 30*time.Second, pausedAt(v3, 1, 25))
	if got := weights(s.route()); got != "75/25" {
		t.Fatalf("route weights %s for v3 at 25%%; want 75/25", got)
	}
	routeRV, scaledRV := s.firstRV(t, &gatewayv1.HTTPRoute{}, "api", func(o client.Object) bool {
		return weights(o.(*gatewayv1.HTTPRoute)) == "100/0"
	}), s.firstRV(t, &appsv1.Deployment{}, bluegreen.DeploymentName("api", v1alpha1.Blue), func(o client.Object) bool {
		return *o.(*appsv1.Deployment).Spec.Replicas == 0
	})
	if _, err := rollouts.Abort(t.Context(), b, "test abort"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("aborted, canary at zero", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v3 && s.replicas(v1alpha1.Blue) == 0
	})
	if r, d := routeRV(), scaledRV(); r == 0 || d == 0 || r >= d {
		t.Fatalf("route back to 100/0 at resourceVersion %d, canary scaled to zero at %d; want the route first", r, d)
	}
	if !s.selects("api", v1alpha1.Green) || s.replicas(v1alpha1.Green) != 3 {
		t.Fatalf("active on %q with %d stable replicas after the abort; want green with 3", s.serviceColor("api"), s.replicas(v1alpha1.Green))
	}
}

// firstRV watches object name of obj's kind from now on; the function it
// returns gives the resourceVersion of the first change for which cond held
// (0 if none yet). One etcd orders every write, so two of them compare.
func (s *scenario) firstRV(t *testing.T, obj client.Object, name string, cond func(client.Object) bool) func() int64 {
	t.Helper()
	wc, err := client.NewWithWatch(s.env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	var list client.ObjectList
	switch obj.(type) {
	case *gatewayv1.HTTPRoute:
		list = &gatewayv1.HTTPRouteList{}
	case *appsv1.Deployment:
		list = &appsv1.DeploymentList{}
	}
	if err := s.c.Get(t.Context(), types.NamespacedName{Namespace: s.env.Namespace, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(t.Context(), list, client.InNamespace(s.env.Namespace), client.MatchingFields{"metadata.name": name},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: obj.GetResourceVersion()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	found := make(chan int64, 1)
	go func() {
		for ev := range w.ResultChan() {
			if o, ok := ev.Object.(client.Object); ok && cond(o) {
				rv, _ := strconv.ParseInt(o.GetResourceVersion(), 10, 64)
				found <- rv
				return
			}
		}
	}()
	return func() int64 {
		select {
		case rv := <-found:
			return rv
		case <-time.After(10 * time.Second):
			return 0
		}
	}
}

// A route the canary cannot use stops it before a pod starts, Degraded
// with the reason; once the route is fixed the canary goes on.
func TestCanaryHTTPRouteProblemIsReported(t *testing.T) {
	s := newScenario(t)
	s.createRoute(map[string]int32{"api": 100})
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", routed))
	s.healthyOn(v1, 30*time.Second)
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	b := s.waitFor("degraded by the route", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseDegraded && b.Status.CurrentRevision == v2
	})
	if !strings.Contains(b.Status.Message, "HTTPRoute api: rules[0] sends to one of Services api and api-preview but not to api-preview") {
		t.Fatalf("message %q; want the missing backendRef named", b.Status.Message)
	}
	if r := s.replicas(v1alpha1.Green); r > 0 {
		t.Fatalf("canary at %d replicas while the route cannot carry its weight; want none", r)
	}
	r := s.route()
	r.Spec.Rules[0].BackendRefs = append(r.Spec.Rules[0].BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: "api-preview", Port: new(gatewayv1.PortNumber(8000))}, Weight: new(int32(0)),
	}})
	if err := s.c.Update(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	s.waitFor("paused at 25% once the route is fixed", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.Canary != nil && b.Status.Canary.Weight == 25
	})
}

// A canary by HTTPRoute with a step check, its controller stopped and a
// new one started at every stage: each resumes from what the API server
// holds, the route at the weight reached. At the pause the scale
// subresource (an HPA) raises the replicas to 6: the canary follows (25%
// of 6 is 2 pods) and the route keeps its weight. Past the pause the step
// check fails: the route goes back to 100/0, then the canary to zero; the
// stable color serves with its 6 replicas. The invariant watcher runs
// throughout.
func TestCanaryHTTPRouteRestartsScaleAndFailedCheck(t *testing.T) {
	h := newHealthServer(t)
	s := newScenario(t)
	s.createRoute(map[string]int32{"api": 100, "api-preview": 0})
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) {
		routed(b)
		b.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{
			{SetWeight: new(int32(25))},
			{Pause: &v1alpha1.CanaryPause{}},
			{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 3, 0)}}},
			{SetWeight: new(int32(50))},
		}
	}))
	s.healthyOn(v1, 30*time.Second)
	s.watchInvariants()
	v2 := s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "2s"})
	for _, ph := range []struct {
		name string
		at   func(*v1alpha1.Rollout) bool
	}{
		{"setWeight 25 scaling", atStep(0, v1alpha1.ReasonScalingUp, v1alpha1.ReasonWaitingForEndpoints)},
		{"paused at 25%", func(b *v1alpha1.Rollout) bool {
			return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2 && b.Status.Canary.Weight == 25
		}},
	} {
		s.waitFor(ph.name, 30*time.Second, ph.at)
		s.stopController()
		s.startController()
	}
	if got := weights(s.route()); got != "75/25" {
		t.Fatalf("route %s after the restarts at 25%%; want 75/25", got)
	}
	s.resize(6)
	s.waitFor("2 canary pods beside 6", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		cs := b.Status.Canary
		return b.Status.Phase == v1alpha1.PhasePaused && cs.CanaryPods == 2 && cs.TotalPods == 8 && cs.Weight == 25
	})
	if got := weights(s.route()); got != "75/25" || s.replicas(v1alpha1.Blue) != 6 {
		t.Fatalf("route %s, stable %d replicas after the scale to 6; want 75/25 and 6", got, s.replicas(v1alpha1.Blue))
	}
	h.status.Store(http.StatusInternalServerError)
	s.patchStatus(bluegreen.PromoteStepPatch(s.get(), 1))
	s.stopController()
	s.startController()
	b := s.waitFor("rolled back by the step check", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v2 && s.replicas(v1alpha1.Green) == 0
	})
	if b.Status.AbortReason != v1alpha1.ReasonStepAnalysisFailed || b.Status.History[0].Outcome != v1alpha1.OutcomeRolledBack {
		t.Fatalf("abort %q, history %+v; want StepAnalysisFailed, RolledBack", b.Status.AbortReason, b.Status.History[0])
	}
	if got := weights(s.route()); got != "100/0" || !s.selects("api", v1alpha1.Blue) || s.replicas(v1alpha1.Blue) != 6 {
		t.Fatalf("route %s, active on %q, stable %d replicas after the rollback; want 100/0, blue, 6", got, s.serviceColor("api"), s.replicas(v1alpha1.Blue))
	}
}
