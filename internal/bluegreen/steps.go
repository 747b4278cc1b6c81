package bluegreen

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Step is one step of a canary or a rolling update as the controller runs
// it: exactly one of a weight (a canary's setWeight), a batch (a rolling
// update's pods), a pause or checks.
type Step struct {
	// Weight is a canary's setWeight.
	Weight *int32
	// Batch is a rolling update's batch number (from 1) and Pods the
	// new-template pods it brings the update to.
	Batch, Pods int32
	Pause       *v1alpha1.CanaryPause
	// Checks run at Stage.
	Checks []v1alpha1.AnalysisCheck
	Stage  v1alpha1.AnalysisStage
}

// StepsOf lists the steps of a canary or rolling strategy (nil for
// blue-green). A rolling update's steps follow from the replicas: each
// batch, then its analysis, then (between batches) its pause.
func StepsOf(spec *v1alpha1.RolloutSpec) []Step {
	switch s := spec.Strategy; {
	case s.Canary != nil:
		steps := make([]Step, len(s.Canary.Steps))
		for i, c := range s.Canary.Steps {
			steps[i] = Step{Weight: c.SetWeight, Pause: c.Pause}
			if c.Analysis != nil {
				steps[i].Checks, steps[i].Stage = c.Analysis.Checks, v1alpha1.StepStage(i)
			}
		}
		return steps
	case s.Rolling != nil:
		replicas := Replicas(spec)
		surge, unavailable := RollingBounds(s.Rolling, replicas)
		size := surge + unavailable
		var steps []Step
		for batch, pods := int32(1), min(size, replicas); pods > 0; batch, pods = batch+1, min(pods+size, replicas) {
			steps = append(steps, Step{Batch: batch, Pods: pods})
			if len(s.Rolling.BatchAnalysis) > 0 {
				steps = append(steps, Step{Batch: batch, Checks: s.Rolling.BatchAnalysis, Stage: v1alpha1.BatchStage(int(batch - 1))})
			}
			if pods == replicas {
				break
			}
			if s.Rolling.Pause != nil {
				steps = append(steps, Step{Batch: batch, Pause: s.Rolling.Pause})
			}
		}
		return steps
	}
	return nil
}

// RollingBounds resolves a rolling update's maxSurge (rounded up) and
// maxUnavailable (rounded down) against replicas. When both come to 0
// (a percentage of few replicas), one pod may be unavailable, as a
// Deployment allows.
func RollingBounds(r *v1alpha1.RollingStrategy, replicas int32) (surge, unavailable int32) {
	surge = scaled(r.MaxSurge, intstr.FromString("25%"), replicas, true)
	unavailable = scaled(r.MaxUnavailable, intstr.FromInt32(0), replicas, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// scaled is v (def when unset) of replicas; invalid values (refused by
// validation) count as 0.
func scaled(v *intstr.IntOrString, def intstr.IntOrString, replicas int32, roundUp bool) int32 {
	if v == nil {
		v = &def
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(replicas), roundUp)
	if err != nil || n < 0 {
		return 0
	}
	return int32(min(n, 1<<30))
}

// Replicas is the spec's replicas, 1 when unset (the CRD's default).
func Replicas(spec *v1alpha1.RolloutSpec) int32 {
	if spec.Replicas != nil {
		return *spec.Replicas
	}
	return 1
}

// DescribeStep names a step as the spec gives it.
func DescribeStep(s *Step) string {
	switch {
	case s.Weight != nil:
		return fmt.Sprintf("setWeight %d", *s.Weight)
	case s.Pods > 0:
		return fmt.Sprintf("batch %d: %d new pod(s)", s.Batch, s.Pods)
	case s.Pause != nil && s.Pause.DurationSeconds != nil:
		return fmt.Sprintf("pause %ds", *s.Pause.DurationSeconds)
	case s.Pause != nil:
		return "pause"
	case s.Batch > 0:
		return fmt.Sprintf("batch %d analysis", s.Batch)
	default:
		return "analysis"
	}
}
