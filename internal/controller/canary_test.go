package controller_test

import (
	"net/http"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
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
	if n, err := clustertest.ReadyEndpoints(t.Context(), s.env.Client, s.env.Namespace, "api"); err != nil || n != 4 {
		t.Fatalf("active Service has %d ready endpoints at 25%% (%v); want 3 stable + 1 canary", n, err)
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

// A canary with every kind of stage (pre-deploy Job, setWeight, a step
// check, a pause for promote, a second weight, a timed pause, background
// checks), its controller stopped and a new one started at each: every
// controller resumes from what the API server holds, the step check counts
// exactly its 3 measurements (none lost or doubled), and the canary ends
// stable with the invariant watcher satisfied throughout.
func TestCanaryControllerRestartAtEveryStep(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.PreDeployJob = &v1alpha1.PreDeployJob{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{localcluster.AnnotationReadyAfter: "3s"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "migrate", Image: "agentic-rag/api:1.0.0"}}},
		}}}
		b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			ScaleDownDelaySeconds: new(int32(4)),
			Analysis:              []v1alpha1.AnalysisCheck{httpCheck("errors", h.URL, 1000, 0)},
			Steps: []v1alpha1.CanaryStep{
				{SetWeight: new(int32(25))},
				{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 3, 0)}}},
				{Pause: &v1alpha1.CanaryPause{}},
				{SetWeight: new(int32(50))},
				{Pause: &v1alpha1.CanaryPause{DurationSeconds: new(int32(3))}},
			},
		}}
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "2s"})
	phases := []struct {
		name string
		at   func(*v1alpha1.Rollout) bool
	}{
		{"pre-deploy Job running", atStep(0, v1alpha1.ReasonPreDeployJobRunning)},
		{"setWeight 25 scaling", atStep(0, v1alpha1.ReasonScalingUp, v1alpha1.ReasonWaitingForEndpoints)},
		{"step check running", atStep(1, v1alpha1.ReasonAnalysisRunning)},
		{"paused for promote", func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused }},
		{"setWeight 50 scaling", atStep(3, v1alpha1.ReasonScalingUp, v1alpha1.ReasonWaitingForEndpoints)},
		{"timed pause", atStep(4, v1alpha1.ReasonCanaryPaused)},
		{"stable, old color warm", func(b *v1alpha1.Rollout) bool {
			return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == v2 && s.replicas(v1alpha1.Blue) == 3
		}},
	}
	var smoke *v1alpha1.AnalysisStatus
	for _, ph := range phases {
		b := s.waitFor(ph.name, 30*time.Second, ph.at)
		if e := bluegreen.AnalysisEntry(&b.Status, v1alpha1.StepStage(1), "smoke", v2); e != nil {
			smoke = e.DeepCopy()
		}
		s.stopController()
		s.startController()
		if ph.name == "paused for promote" {
			s.patchStatus(bluegreen.PromoteStepPatch(s.get(), 2))
		}
	}
	got := s.healthyOn(v2, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Green || got.Status.History[1].Revision != v1 {
		t.Fatalf("ended on %s with history %+v; want green, v1 before v2", got.Status.StableColor, got.Status.History)
	}
	if smoke == nil || smoke.Result != v1alpha1.AnalysisSuccessful || smoke.Successes != 3 || smoke.Failures != 0 {
		t.Fatalf("step check %+v; want exactly 3 successes, none lost or doubled by the restarts", smoke)
	}
	s.waitFor("blue scaled down after the restarts", 30*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Blue) == 0 })
}

// A step check that fails rolls the canary back by itself: out of the
// active Service, scaled to zero, the stable color serving alone with all
// its replicas. Before that, the scale subresource (what an HPA writes)
// raised the replica count mid-canary: the canary pods followed (25% of 6
// is 2 pods) and the stable color grew to 6; lowering it back never shrank
// the stable color mid-rollout.
func TestCanaryScaleAndFailedStepRollsBack(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			ScaleDownDelaySeconds: new(int32(600)),
			Steps: []v1alpha1.CanaryStep{
				{SetWeight: new(int32(25))},
				{Pause: &v1alpha1.CanaryPause{}},
				{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 3, 0)}}},
			},
		}}
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	paused := func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2
	}
	s.waitFor("paused at 25%", 30*time.Second, paused)
	s.resize(6)
	s.waitFor("6 stable beside 2 canary pods", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return paused(b) && b.Status.Canary.CanaryPods == 2 && b.Status.Canary.TotalPods == 8
	})
	s.resize(3)
	s.waitFor("canary back to 1 pod", 30*time.Second, func(b *v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 1 })
	if r := s.replicas(v1alpha1.Blue); r != 6 {
		t.Fatalf("stable blue at %d after the scale-down mid-canary; want 6 (never shrunk mid-rollout)", r)
	}
	h.status.Store(http.StatusInternalServerError)
	if _, err := (bluegreen.Rollouts{Client: s.c}).Promote(t.Context(), s.get()); err != nil {
		t.Fatal(err)
	}
	b := s.waitFor("rolled back", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v2
	})
	if b.Status.AbortReason != v1alpha1.ReasonStepAnalysisFailed || b.Status.StableRevision != v1 || b.Status.History[0].Outcome != v1alpha1.OutcomeRolledBack {
		t.Fatalf("abort %q, stable %s, history %+v; want StepAnalysisFailed, v1 stable, v2 RolledBack", b.Status.AbortReason, b.Status.StableRevision, b.Status.History[0])
	}
	if !s.selects("api", v1alpha1.Blue) {
		t.Fatalf("active Service on %q; want blue alone", s.serviceColor("api"))
	}
	s.waitFor("canary scaled to zero", 10*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 0 })
}
