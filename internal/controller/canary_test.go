package controller_test

import (
	"context"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// canary makes a scenario's rollout a canary: 25%, a pause for promote,
// 50%, a 1 s pause; the previous stable color stays warm for 600 s after
// a promotion, so that a canary scaled down at once is told apart from
// one retired after the delay.
func canary(b *v1alpha1.Rollout) {
	b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
		ScaleDownDelaySeconds: new(int32(600)),
		Steps: []v1alpha1.CanaryStep{
			{SetWeight: new(int32(25))},
			{Pause: &v1alpha1.CanaryPause{}},
			{SetWeight: new(int32(50))},
			{Pause: &v1alpha1.CanaryPause{DurationSeconds: new(int32(1))}},
		},
	}}
}

// A canary on the real API server: at 25% the stable color keeps its 3
// pods, 1 canary pod joins them behind the active Service (which selects
// both colors: 4 ready endpoints) and the rollout waits for promote;
// promoted, it goes to 50%, then to the canary alone, which becomes stable.
// The next canary, aborted at its pause, is taken out of the active
// Service and scaled to zero at once. The invariant watcher runs
// throughout.
func TestCanaryPromoteAndAbort(t *testing.T) {
	s, _ := deployed(t, canary)
	rollouts := bluegreen.Rollouts{Client: s.c}
	ready := map[string]string{localcluster.AnnotationReadyAfter: "1s"}

	v2 := s.setImage("agentic-rag/api:2.0.0", ready)
	b := s.waitFor("paused at 25%", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		cs := b.Status.Canary
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2 && cs != nil && cs.Step == 1 && cs.CanaryPods == 1 && cs.TotalPods == 4
	})
	if c := s.serviceColor("api"); c != "" {
		t.Fatalf("active Service selects %q at 25%%; want both colors (no color label)", c)
	}
	if n := s.readyEndpoints("api"); n != 4 {
		t.Fatalf("active Service has %d ready endpoints at 25%%; want 3 stable + 1 canary", n)
	}
	if blue, green := s.replicas(v1alpha1.Blue), s.replicas(v1alpha1.Green); blue != 3 || green != 1 {
		t.Fatalf("blue %d, green %d replicas at 25%%; want 3 stable beside 1 canary", blue, green)
	}
	if _, err := rollouts.Promote(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	b = s.healthyOn(v2, 60*time.Second)
	if b.Status.StableColor != v1alpha1.Green || !s.selects("api", v1alpha1.Green) {
		t.Fatalf("v2 stable on %s, active Service on %q; want green alone", b.Status.StableColor, s.serviceColor("api"))
	}
	if h := b.Status.History[0]; h.Revision != v2 || h.Outcome != v1alpha1.OutcomePromoted || h.DecidedBy != v1alpha1.DecidedByUser {
		t.Fatalf("history %+v; want v2 Promoted by the user", h)
	}
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("blue has %d replicas after the promotion; want 3 (warm for the delay)", r)
	}

	v3 := s.setImage("agentic-rag/api:3.0.0", ready)
	b = s.waitFor("v3 paused at 25%", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		cs := b.Status.Canary
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v3 && cs != nil && cs.CanaryPods == 1
	})
	if _, err := rollouts.Abort(t.Context(), b, "test abort"); err != nil {
		t.Fatal(err)
	}
	b = s.waitFor("aborted", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v3
	})
	if b.Status.AbortReason != v1alpha1.ReasonUserAbort || b.Status.StableRevision != v2 {
		t.Fatalf("abort %q, stable %s; want %s with v2 still stable", b.Status.AbortReason, b.Status.StableRevision, v1alpha1.ReasonUserAbort)
	}
	if !s.selects("api", v1alpha1.Green) {
		t.Fatalf("active Service on %q after the abort; want green (stable) alone", s.serviceColor("api"))
	}
	s.waitFor("canary scaled to zero", 10*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Blue) == 0 })
	if r := s.replicas(v1alpha1.Green); r != 3 {
		t.Fatalf("stable green has %d replicas after the abort; want 3", r)
	}
	if h := s.get().Status.History[0]; h.Revision != v3 || h.Outcome != v1alpha1.OutcomeRolledBack {
		t.Fatalf("history %+v; want v3 RolledBack (it had taken traffic)", h)
	}
}

// readyEndpoints counts the ready endpoints of a Service's EndpointSlices.
func (s *scenario) readyEndpoints(name string) int {
	s.t.Helper()
	slices, err := s.env.Client.DiscoveryV1().EndpointSlices(s.env.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}
