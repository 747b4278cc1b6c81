package bluegreen

import (
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// ProgressOnly reports whether next differs from stored only in what
// reports progress, which the next pass recomputes from what it observes:
// the colors' replica counts, the pods behind a canary's or rolling
// update's weight, and the message texts. Everything else (the phase, a
// reason, a step, a record, the observed generation) is a decision.
func ProgressOnly(stored, next *v1alpha1.RolloutStatus) bool {
	return equality.Semantic.DeepEqual(withoutProgress(stored), withoutProgress(next))
}

func withoutProgress(st *v1alpha1.RolloutStatus) *v1alpha1.RolloutStatus {
	out := st.DeepCopy()
	out.Message, out.Replicas, out.ReadyReplicas = "", 0, 0
	for _, c := range []*v1alpha1.ColorStatus{&out.Blue, &out.Green} {
		c.Replicas, c.ReadyReplicas = 0, 0
	}
	for _, p := range []*v1alpha1.StepStatus{out.Canary, out.Rolling} {
		if p != nil {
			p.Weight, p.CanaryPods, p.TotalPods = 0, 0, 0
		}
	}
	for i := range out.Conditions {
		out.Conditions[i].Message = ""
	}
	return out
}
