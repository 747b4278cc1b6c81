package controller_test

import (
	"net/http"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// rollingAt: the rollout's rolling update of rev waits at step (0-based)
// with blue and green at the given sizes.
func (s *scenario) rollingAt(rev string, step, blue, green int32) func(*v1alpha1.Rollout) bool {
	return func(b *v1alpha1.Rollout) bool {
		r := b.Status.Rolling
		return b.Status.CurrentRevision == rev && r != nil && r.Step == step && s.replicas(v1alpha1.Blue) == blue && s.replicas(v1alpha1.Green) == green
	}
}

// A rolling update on the real API server, one pod at a time (3 replicas,
// the default maxSurge 25% and maxUnavailable 0) with a pause for promote
// between batches: after the first batch 1 new pod serves beside 2 stable
// ones (3 ready endpoints behind an active Service that selects both
// colors), after the second 2 beside 1; promoted past both pauses it ends
// on the new color alone, promoted by the user. The next update, aborted
// at its first pause, brings the stable color back to 3 and returns the
// traffic to it alone before its new pod goes. The invariant watcher runs
// throughout.
func TestRollingPausesAndAbort(t *testing.T) {
	s, _ := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{Pause: &v1alpha1.CanaryPause{}}}
	})
	rollouts := bluegreen.Rollouts{Client: s.c}
	ready := map[string]string{localcluster.AnnotationReadyAfter: "1s"}
	paused := func(rev string, step, blue, green int32) *v1alpha1.Rollout {
		at := s.rollingAt(rev, step, blue, green)
		return s.waitFor("paused after a batch", 30*time.Second, func(b *v1alpha1.Rollout) bool {
			return at(b) && b.Status.Phase == v1alpha1.PhasePaused
		})
	}

	v2 := s.setImage("agentic-rag/api:2.0.0", ready)
	paused(v2, 1, 2, 1)
	if c := s.serviceColor("api"); c != "" {
		t.Fatalf("active Service selects %q after the first batch; want both colors", c)
	}
	if n, err := clustertest.ReadyEndpoints(t.Context(), s.env.Client, s.env.Namespace, "api"); err != nil || n != 3 {
		t.Fatalf("active Service has %d ready endpoints after the first batch (%v); want 2 stable + 1 new", n, err)
	}
	// The status reports the weight as the endpoints list it: a stable pod
	// scaled down goes from them after the pause began.
	b := s.waitFor("status: 1 new pod of 3", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		r := b.Status.Rolling
		return r != nil && r.Step == 1 && r.CanaryPods == 1 && r.TotalPods == 3
	})
	if _, err := rollouts.Promote(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	b = paused(v2, 3, 1, 2)
	if _, err := rollouts.Promote(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	b = s.healthyOn(v2, 60*time.Second)
	if b.Status.StableColor != v1alpha1.Green || !s.selects("api", v1alpha1.Green) || s.replicas(v1alpha1.Blue) != 0 {
		t.Fatalf("v2 stable on %s, active Service on %q, blue at %d; want green alone, blue at 0", b.Status.StableColor, s.serviceColor("api"), s.replicas(v1alpha1.Blue))
	}
	if h := b.Status.History[0]; h.Revision != v2 || h.Outcome != v1alpha1.OutcomePromoted || h.DecidedBy != v1alpha1.DecidedByUser {
		t.Fatalf("history %+v; want v2 Promoted by the user", h)
	}

	v3 := s.setImage("agentic-rag/api:3.0.0", ready)
	b = paused(v3, 1, 1, 2)
	if _, err := rollouts.Abort(t.Context(), b, "test abort"); err != nil {
		t.Fatal(err)
	}
	b = s.waitFor("back on v2 alone", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v3 && s.selects("api", v1alpha1.Green) && s.replicas(v1alpha1.Blue) == 0
	})
	if r := s.replicas(v1alpha1.Green); r != 3 || b.Status.StableRevision != v2 {
		t.Fatalf("stable green at %d replicas, stable %s after the abort; want 3 and v2", r, b.Status.StableRevision)
	}
	if h := b.Status.History[0]; h.Revision != v3 || h.Outcome != v1alpha1.OutcomeRolledBack || h.DecidedBy != v1alpha1.DecidedByUser {
		t.Fatalf("history %+v; want v3 RolledBack by the user (it had served)", h)
	}
}

// A rolling update of 4 replicas, two pods a batch (maxSurge 1,
// maxUnavailable 1), with a check after each batch and a timed pause, its
// controller stopped and a new one started at each stage: every
// controller resumes from what the API server holds, each batch's check
// counts exactly its 3 measurements, and the update ends stable.
func TestRollingControllerRestartAtEveryBatch(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Replicas = new(int32(4))
		b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{
			MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(1)),
			BatchAnalysis: []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 3, 0)},
			Pause:         &v1alpha1.CanaryPause{DurationSeconds: new(int32(3))},
		}}
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "2s"})
	phases := []struct {
		name string
		at   func(*v1alpha1.Rollout) bool
	}{
		{"batch 1 scaling", atStep(0, v1alpha1.ReasonScalingUp, v1alpha1.ReasonWaitingForEndpoints)},
		{"batch 1 check", atStep(1, v1alpha1.ReasonAnalysisRunning)},
		{"pause", atStep(2, v1alpha1.ReasonCanaryPaused)},
		{"batch 2 scaling", atStep(3, v1alpha1.ReasonScalingUp, v1alpha1.ReasonWaitingForEndpoints)},
		{"batch 2 check", atStep(4, v1alpha1.ReasonAnalysisRunning)},
		{"stable", func(b *v1alpha1.Rollout) bool {
			return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == v2
		}},
	}
	checks := map[v1alpha1.AnalysisStage]*v1alpha1.AnalysisStatus{}
	for _, ph := range phases {
		b := s.waitFor(ph.name, 30*time.Second, ph.at)
		for _, stage := range []v1alpha1.AnalysisStage{"Batch1", "Batch2"} {
			if e := bluegreen.AnalysisEntry(&b.Status, stage, "smoke", v2); e != nil {
				checks[stage] = e.DeepCopy()
			}
		}
		s.stopController()
		s.startController()
	}
	got := s.healthyOn(v2, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Green || got.Status.History[1].Revision != v1 || s.replicas(v1alpha1.Blue) != 0 || s.replicas(v1alpha1.Green) != 4 {
		t.Fatalf("ended on %s (blue %d, green %d) with history %+v; want green at 4, blue at 0, v1 before v2",
			got.Status.StableColor, s.replicas(v1alpha1.Blue), s.replicas(v1alpha1.Green), got.Status.History)
	}
	for _, stage := range []v1alpha1.AnalysisStage{"Batch1", "Batch2"} {
		if e := checks[stage]; e == nil || e.Result != v1alpha1.AnalysisSuccessful || e.Successes != 3 || e.Failures != 0 {
			t.Errorf("%s check %+v; want exactly 3 successes, none lost or doubled by the restarts", stage, e)
		}
	}
}

// A rolling update's replicas raised mid-update through the scale
// subresource (what an HPA writes): the batches follow (25% of 6 is 2 new
// pods a batch) and the stable color grows back to what the batch leaves
// it. Then a failed check after the next batch rolls back by itself: the
// stable color returns to all 6 replicas, takes the traffic alone, and
// the new color goes to zero.
func TestRollingScaleAndFailedBatchRollsBack(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{
			BatchAnalysis: []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 1, 0)},
			Pause:         &v1alpha1.CanaryPause{},
		}}
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused after batch 1 of 3 replicas", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return s.rollingAt(v2, 2, 2, 1)(b) && b.Status.Phase == v1alpha1.PhasePaused
	})
	scale := &autoscalingv1.Scale{}
	if err := s.c.SubResource("scale").Get(t.Context(), s.get(), scale); err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 6
	if err := s.c.SubResource("scale").Update(t.Context(), s.get(), scaleBody(scale)); err != nil {
		t.Fatal(err)
	}
	s.waitFor("batch 1 of 6 replicas: 2 new beside 4 stable", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return s.rollingAt(v2, 2, 4, 2)(b) && b.Status.Phase == v1alpha1.PhasePaused && b.Status.Rolling.CanaryPods == 2 && b.Status.Rolling.TotalPods == 6
	})
	h.status.Store(http.StatusInternalServerError)
	if _, err := (bluegreen.Rollouts{Client: s.c}).Promote(t.Context(), s.get()); err != nil {
		t.Fatal(err)
	}
	b := s.waitFor("rolled back to v1 alone", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v2 && s.selects("api", v1alpha1.Blue) && s.replicas(v1alpha1.Green) == 0
	})
	if b.Status.AbortReason != v1alpha1.ReasonBatchAnalysisFailed || b.Status.StableRevision != v1 || b.Status.History[0].Outcome != v1alpha1.OutcomeRolledBack {
		t.Fatalf("abort %q, stable %s, history %+v; want BatchAnalysisFailed, v1 stable, v2 RolledBack", b.Status.AbortReason, b.Status.StableRevision, b.Status.History[0])
	}
	if r := s.replicas(v1alpha1.Blue); r != 6 {
		t.Fatalf("stable blue at %d after the rollback; want all 6", r)
	}
}

// A pause changed from a duration to {} (wait for promote) by a
// server-side apply, as `ragdeploy upgrade` makes it, stays {}: the pause
// is applied whole (without that, the API server merged it down to null
// and refused the Rollout).
func TestRollingPauseChangedByApplyStaysAnObject(t *testing.T) {
	s := newScenario(t)
	b := s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{Pause: &v1alpha1.CanaryPause{DurationSeconds: new(int32(2))}}}
	})
	b.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
	apply := func() {
		t.Helper()
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: obj}
		unstructured.RemoveNestedField(u.Object, "status")
		if err := s.c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("upgrade-test"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	b.Spec.Strategy.Rolling.Pause = &v1alpha1.CanaryPause{}
	apply()
	if p := s.get().Spec.Strategy.Rolling.Pause; p == nil || p.DurationSeconds != nil {
		t.Fatalf("stored pause %+v; want {} (wait for promote)", p)
	}
}
