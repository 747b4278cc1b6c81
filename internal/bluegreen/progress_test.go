package bluegreen

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Counts and message texts are progress; a phase, a reason, a step, a
// record or the observed generation is a decision.
func TestProgressOnly(t *testing.T) {
	stored := v1alpha1.RolloutStatus{
		ObservedGeneration: 2, Phase: v1alpha1.PhaseProgressing, Message: "green: 1/3 ready",
		Green:      v1alpha1.ColorStatus{Revision: "v2", Replicas: 3, ReadyReplicas: 1},
		Canary:     &v1alpha1.StepStatus{Step: 0, CanaryPods: 0, TotalPods: 3},
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionProgressing, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonScalingUp, Message: "green: 1/3 ready"}},
	}
	for _, tt := range []struct {
		name   string
		change func(*v1alpha1.RolloutStatus)
		want   bool
	}{
		{"ready count and messages", func(st *v1alpha1.RolloutStatus) {
			st.Green.ReadyReplicas, st.Message, st.Conditions[0].Message = 2, "green: 2/3 ready", "green: 2/3 ready"
			st.Canary.CanaryPods, st.Canary.TotalPods, st.Canary.Weight = 1, 4, 25
		}, true},
		{"phase", func(st *v1alpha1.RolloutStatus) { st.Phase = v1alpha1.PhasePaused }, false},
		{"reason", func(st *v1alpha1.RolloutStatus) { st.Conditions[0].Reason = v1alpha1.ReasonPromoted }, false},
		{"step", func(st *v1alpha1.RolloutStatus) { st.Canary.Step = 1 }, false},
		{"generation", func(st *v1alpha1.RolloutStatus) { st.ObservedGeneration = 3 }, false},
		{"a color's revision", func(st *v1alpha1.RolloutStatus) { st.Green.Revision = "v3" }, false},
	} {
		next := stored.DeepCopy()
		tt.change(next)
		if got := ProgressOnly(&stored, next); got != tt.want {
			t.Errorf("%s: ProgressOnly = %t; want %t", tt.name, got, tt.want)
		}
	}
}
