package bluegreen

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// TestStateOf: every follower reads a rollout's state the same way.
func TestStateOf(t *testing.T) {
	w := newTestWorld()
	rev := w.o.Revision
	rollout := func(gen, observed int64, phase v1alpha1.Phase, current, stable string, reason string) *v1alpha1.Rollout {
		b := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: w.o.Spec}
		b.Status = v1alpha1.RolloutStatus{ObservedGeneration: observed, Phase: phase, CurrentRevision: current, StableRevision: stable}
		if reason != "" {
			b.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: reason}}
		}
		return b
	}
	for name, tt := range map[string]struct {
		b    *v1alpha1.Rollout
		want State
	}{
		"not observed yet":          {rollout(2, 1, v1alpha1.PhaseHealthy, rev, rev, ""), StateInProgress},
		"older revision recorded":   {rollout(1, 1, v1alpha1.PhaseHealthy, "old", "old", ""), StateInProgress},
		"healthy and stable":        {rollout(1, 1, v1alpha1.PhaseHealthy, rev, rev, ""), StateDone},
		"healthy, not yet stable":   {rollout(1, 1, v1alpha1.PhaseHealthy, rev, "old", ""), StateInProgress},
		"progressing":               {rollout(1, 1, v1alpha1.PhaseProgressing, rev, "old", ""), StateInProgress},
		"paused for promotion":      {rollout(1, 1, v1alpha1.PhasePaused, rev, "old", ""), StateWaitingForPromotion},
		"aborted":                   {rollout(1, 1, v1alpha1.PhaseAborted, rev, "old", ""), StateFailed},
		"degraded":                  {rollout(1, 1, v1alpha1.PhaseDegraded, rev, "old", v1alpha1.ReasonNotReady), StateFailed},
		"invalid, revision unknown": {rollout(1, 1, v1alpha1.PhaseDegraded, "", "", v1alpha1.ReasonInvalidSpec), StateFailed},
	} {
		if got := StateOf(tt.b); got != tt.want {
			t.Errorf("%s: StateOf = %s; want %s", name, got, tt.want)
		}
	}
}

// TestVerbsRefuseWhatThereIsNothingToDoFor: the preconditions every caller
// of Rollouts meets, checked before anything is written (a nil client
// would panic on a write).
func TestVerbsRefuseWhatThereIsNothingToDoFor(t *testing.T) {
	w := newTestWorld()
	rev := w.o.Revision
	stable := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: w.o.Spec,
		Status: v1alpha1.RolloutStatus{StableRevision: rev}}
	aborted := stable.DeepCopy()
	aborted.Status.StableRevision, aborted.Status.AbortedRevision = "old", rev
	r := Rollouts{}
	for name, err := range map[string]error{
		"promote a stable revision": func() error { _, err := r.Promote(t.Context(), stable); return err }(),
		"abort a stable revision":   func() error { _, err := r.Abort(t.Context(), stable, "x"); return err }(),
		"abort an aborted one":      func() error { _, err := r.Abort(t.Context(), aborted, "x"); return err }(),
		"retry one not aborted":     func() error { _, err := r.Retry(t.Context(), stable); return err }(),
	} {
		if !errors.Is(err, ErrNothingToDo) {
			t.Errorf("%s: %v; want ErrNothingToDo", name, err)
		}
	}
	if _, err := r.Promote(t.Context(), aborted); err == nil || errors.Is(err, ErrNothingToDo) {
		t.Errorf("promote an aborted revision: %v; want an error saying to retry first", err)
	}
	// A canary that does not wait at a pause has no pause to release (a
	// weight being set, or a pause already released); --full would go on.
	w, _ = canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(25))}, v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}})
	canary := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: w.o.Spec}
	canary.Spec.Template.Spec.Containers[0].Image = "api:v2"
	rev2 := TemplateRevision(&canary.Spec.Template)
	canary.Status = v1alpha1.RolloutStatus{StableRevision: rev, CurrentRevision: rev2, Canary: &v1alpha1.StepStatus{Step: 0}}
	released := canary.DeepCopy()
	released.Status.Canary = &v1alpha1.StepStatus{Step: 1, PromotedStep: new(int32(1))}
	for name, b := range map[string]*v1alpha1.Rollout{"promote a canary setting its weight": canary, "promote a pause already released": released} {
		if _, err := r.Promote(t.Context(), b); !errors.Is(err, ErrNothingToDo) || !strings.Contains(err.Error(), "promote --full") {
			t.Errorf("%s: %v; want ErrNothingToDo naming promote --full", name, err)
		}
	}
	if step, ok := PausedStep(func() *v1alpha1.Rollout { b := canary.DeepCopy(); b.Status.Canary.Step = 1; return b }()); !ok || step != 1 {
		t.Errorf("a canary at its pause: step %d, %t; want 1, paused", step, ok)
	}
	if _, _, err := SetImages(stable, map[string]string{"web": "x:1"}); err == nil {
		t.Error("SetImages of a container the rollout does not have passed")
	}
}
