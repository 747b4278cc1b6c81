package bluegreen

import (
	"fmt"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// canary takes the current revision through the canary strategy on the
// idle color, beside the stable color at its full size, in order: an
// instant switch to a warm known-good color, the pre-deploy Job, the
// background analysis (from the first weight on), the steps (a setWeight
// scales the canary and waits for its pods behind the active Service, a
// pause waits, an analysis checks), then full scale and the switch to the
// canary alone. After the switch, postPromotion makes it stable.
func (d *decider) canary() {
	stable, next, switched := d.holdStable()
	if switched {
		return
	}
	if d.status.Canary == nil {
		d.status.Canary = &v1alpha1.CanaryStatus{StepStartedAt: d.microtime()}
	}
	d.weighed(next)
	for _, stage := range []func(v1alpha1.Color) bool{d.notWarm, d.preDeployJobWithinDeadline, d.preDeployJobDone, d.backgroundPassed, d.canarySteps} {
		if !stage(next) {
			if d.plan.ActiveColor == "" {
				d.keepStableActive(stable)
			}
			return
		}
	}
	d.serveCanary(next, d.settings.replicas)
	if d.canaryReady(next, d.settings.replicas, "full scale before the switch") {
		d.switchTo(next)
	}
}

// preDeployJobWithinDeadline aborts a canary whose pre-deploy Job has not
// let it start within the progress deadline, counted from the rollout's
// start (the first step's start), as blue-green counts it.
func (d *decider) preDeployJobWithinDeadline(next v1alpha1.Color) bool {
	if d.observed.Spec.PreDeployJob == nil || d.observed.Colors[next].Revision == d.observed.Revision || d.observed.PreDeployJob == JobSucceeded {
		return true
	}
	deadline := d.status.Canary.StepStartedAt.Add(d.settings.progressDeadline)
	if !d.now().Before(deadline) {
		d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("the pre-deploy Job did not succeed within %v", d.settings.progressDeadline))
		return false
	}
	d.wake(deadline)
	return true
}

// weighed records the weight the canary has: its share of the active
// Service's ready endpoints, and when it first took traffic.
func (d *decider) weighed(next v1alpha1.Color) {
	cs, active := d.status.Canary, d.observed.Active
	cs.CanaryPods, cs.TotalPods = 0, active.ReadyEndpoints
	if active.Both {
		cs.CanaryPods = active.ReadyByColor[next]
	}
	cs.Weight = percent(cs.CanaryPods, cs.TotalPods)
	if cs.CanaryPods > 0 && cs.TrafficAt == nil {
		cs.TrafficAt = d.microtime()
	}
}

// canarySteps runs the steps from the current one on, as far as this
// observation lets them go; it passes once every step is done (or
// `rollout promote --full` skipped them).
func (d *decider) canarySteps(next v1alpha1.Color) bool {
	steps, cs := d.settings.canary.Steps, d.status.Canary
	if d.status.PromoteRevision == d.observed.Revision {
		cs.Step = int32(len(steps)) //nolint:gosec // G115: at most 50 steps (CRD)
	}
	for int(cs.Step) < len(steps) {
		i := int(cs.Step)
		cs.SetWeight = setWeightAt(steps, i)
		pods := CanaryPods(cs.SetWeight, d.settings.replicas)
		d.serveCanary(next, pods)
		if !d.stepDone(next, i, pods) {
			return false
		}
		d.emit(Event{Reason: v1alpha1.ReasonCanaryStepComplete, Message: fmt.Sprintf("step %d/%d done (%s) at %s", i+1, len(steps), DescribeStep(&steps[i]), WeightOf(cs.CanaryPods, cs.TotalPods))})
		cs.Step++
		cs.StepStartedAt = d.microtime()
	}
	return true
}

// setWeightAt is the weight steps[:i+1] ask for: the last setWeight.
func setWeightAt(steps []v1alpha1.CanaryStep, i int) int32 {
	for ; i >= 0; i-- {
		if i < len(steps) && steps[i].SetWeight != nil {
			return *steps[i].SetWeight
		}
	}
	return 0
}

// serveCanary runs pods canary pods of the current revision on next and,
// when there are any and next runs no pod of an older revision, has the
// active Service select both colors.
func (d *decider) serveCanary(next v1alpha1.Color, pods int32) {
	rev := d.observed.Revision
	d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: pods}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = next
	}
	if cs := d.observed.Colors[next]; pods > 0 && cs.Revision == rev && cs.Stale == 0 {
		d.plan.ActiveColor, d.plan.ActiveBoth = d.status.StableColor, true
	}
}

// stepDone runs step i and reports whether it is done.
func (d *decider) stepDone(next v1alpha1.Color, i int, pods int32) bool {
	steps, cs := d.settings.canary.Steps, d.status.Canary
	step := &steps[i]
	where := fmt.Sprintf("step %d/%d at %s", i+1, len(steps), WeightOf(cs.CanaryPods, cs.TotalPods))
	switch {
	case step.SetWeight != nil:
		return d.canaryReady(next, pods, fmt.Sprintf("step %d/%d: setWeight %d", i+1, len(steps), *step.SetWeight))
	case step.Pause != nil && step.Pause.DurationSeconds != nil:
		at := cs.StepStartedAt.Add(time.Duration(*step.Pause.DurationSeconds) * time.Second)
		if !d.now().Before(at) {
			return true
		}
		d.wake(at)
		d.progressing(v1alpha1.ReasonCanaryPaused, fmt.Sprintf("%s: paused until %s", where, at.UTC().Format(time.RFC3339)))
		return false
	case step.Pause != nil:
		if pauseReleased(cs, int32(i)) { //nolint:gosec // G115: at most 50 steps (CRD)
			return true
		}
		d.phase = v1alpha1.PhasePaused
		d.reason, d.message = v1alpha1.ReasonAwaitingPromotion, where+": paused; run `ragdeploy rollout promote`"
		return false
	default:
		return d.analysisPassed(v1alpha1.StepStage(i), step.Analysis.Checks, v1alpha1.ReasonStepAnalysisFailed, v1alpha1.ReasonAnalysisRunning, where+": analysis running")
	}
}

// pauseReleased reports whether `promote` released the pause at step i.
func pauseReleased(cs *v1alpha1.CanaryStatus, i int32) bool {
	return cs.PromotedStep != nil && *cs.PromotedStep == i
}

// canaryReady reports whether next has want ready pods of the current
// revision, behind the preview Service when there is one and behind the
// active Service (the weight is reached); past the progress deadline,
// counted from the step's start, it aborts the revision.
func (d *decider) canaryReady(next v1alpha1.Color, want int32, what string) bool {
	if d.newColorReady(next, want) {
		if got := d.observed.Active.ReadyByColor[next]; !d.observed.Active.Both || got < want {
			d.progressing(v1alpha1.ReasonWaitingForEndpoints, fmt.Sprintf("%s: active Service %s lists %d/%d canary endpoints", what, d.observed.Spec.ActiveService, got, want))
		} else {
			return true
		}
	}
	deadline := d.status.Canary.StepStartedAt.Add(d.settings.progressDeadline)
	if !d.now().Before(deadline) {
		d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("%s: not ready within %v (%d/%d ready)", what, d.settings.progressDeadline, d.readyAt(next, d.observed.Revision), want))
		return false
	}
	d.wake(deadline)
	return false
}

// backgroundPassed runs the background analysis once the canary has taken
// traffic; a failure aborts the revision. A check still running does not
// hold the steps.
func (d *decider) backgroundPassed(v1alpha1.Color) bool {
	checks := d.settings.canary.Analysis
	if len(checks) == 0 || d.status.Canary.TrafficAt == nil {
		return true
	}
	if d.analysis(v1alpha1.Background, checks) == v1alpha1.AnalysisFailed {
		d.abort(v1alpha1.ReasonBackgroundFailed, d.failedChecks(v1alpha1.Background))
		return false
	}
	return true
}

// DescribeStep names a step as the spec gives it.
func DescribeStep(s *v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.DurationSeconds != nil:
		return fmt.Sprintf("pause %ds", *s.Pause.DurationSeconds)
	case s.Pause != nil:
		return "pause"
	default:
		return "analysis"
	}
}
