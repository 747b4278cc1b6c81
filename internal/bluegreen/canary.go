package bluegreen

import (
	"fmt"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// stepped takes the current revision through a canary or a rolling
// update on the idle color, in order: an instant switch to a warm
// known-good color, the pre-deploy Job, the background analysis (from the
// first new pod serving on), the steps (a setWeight or a batch scales the
// new color, and for a batch the stable one down, and waits for the new
// pods behind the active Service; a pause waits; an analysis checks), then
// full scale and the switch to the new color alone. A canary's stable
// color keeps every desired replica throughout; a rolling update's gives
// up a pod for each new one. After the switch, postPromotion makes the new
// color stable.
func (d *decider) stepped() {
	stable, next := d.status.StableColor, d.status.StableColor.Other()
	if d.settings.rolling == nil {
		if _, _, switched := d.holdStable(); switched {
			return
		}
	} else if d.observed.Active.Color == next {
		if d.observed.Colors[next].Revision != d.observed.Revision || !d.promotedHere() {
			// Replaced right after the switch: the stable color, given up
			// batch by batch, comes back so that traffic can return to it.
			d.plan.Colors[stable] = ColorPlan{Revision: d.status.StableRevision, Replicas: d.settings.replicas}
		}
		d.switched(stable, next)
		return
	}
	if *d.progress() == nil {
		*d.progress() = &v1alpha1.StepStatus{StepStartedAt: d.microtime(), Step: d.firstStep()}
	}
	d.weighed(next)
	for _, stage := range []func(v1alpha1.Color) bool{d.notWarm, d.routeUsable, d.preDeployJobWithinDeadline, d.preDeployJobDone, d.backgroundPassed, d.runSteps} {
		if !stage(next) {
			if d.plan.ActiveColor == "" && d.status.AbortedRevision != d.observed.Revision {
				d.keepStableActive(stable)
			}
			return
		}
	}
	d.serveNew(next, d.settings.replicas)
	// A route keeps the weight it carries until the active Service has
	// switched to the canary color.
	d.holdRoute()
	if d.newPodsServe(next, d.settings.replicas, "full scale before the switch") {
		d.switchTo(next)
	}
}

// progress is where the steps' progress is kept: status.canary or
// status.rolling.
func (d *decider) progress() **v1alpha1.StepStatus {
	if d.settings.rolling != nil {
		return &d.status.Rolling
	}
	return &d.status.Canary
}

// firstStep is where a rolling update starts: past the batches whose new
// pods the stable color has already given up (a revision replaced in the
// middle of an update goes on from there instead of shrinking the new
// color); a canary starts at its first step.
func (d *decider) firstStep() int32 {
	if d.settings.rolling == nil {
		return 0
	}
	gone := d.settings.replicas - d.observed.Colors[d.status.StableColor].Replicas
	for i, s := range d.settings.steps {
		if s.Pods > 0 && s.Pods >= gone {
			return int32(i)
		}
	}
	return 0
}

// preDeployJobWithinDeadline aborts a canary whose pre-deploy Job has not
// let it start within the progress deadline, counted from the rollout's
// start (the first step's start), as blue-green counts it.
func (d *decider) preDeployJobWithinDeadline(next v1alpha1.Color) bool {
	if d.observed.Spec.PreDeployJob == nil || d.observed.Colors[next].Revision == d.observed.Revision || d.observed.PreDeployJob == JobSucceeded {
		return true
	}
	deadline := (*d.progress()).StepStartedAt.Add(d.settings.progressDeadline)
	if !d.now().Before(deadline) {
		d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("the pre-deploy Job did not succeed within %v", d.settings.progressDeadline))
		return false
	}
	d.wake(deadline)
	return true
}

// weighed records the weight the new color has: its share of the active
// Service's ready endpoints, and when it first took traffic.
func (d *decider) weighed(next v1alpha1.Color) {
	cs, active := *d.progress(), d.observed.Active
	if d.settings.route != "" {
		d.weighedRouted(cs, next)
	} else {
		cs.CanaryPods, cs.TotalPods = 0, active.ReadyEndpoints
		if active.Both {
			cs.CanaryPods = active.ReadyByColor[next]
		}
		cs.Weight = percent(cs.CanaryPods, cs.TotalPods)
	}
	if cs.CanaryPods > 0 && cs.Weight > 0 && cs.TrafficAt == nil {
		cs.TrafficAt = d.microtime()
	}
}

// runSteps runs the steps from the current one on, as far as this
// observation lets them go; it passes once every step is done (or
// `rollout promote --full` skipped them).
func (d *decider) runSteps(next v1alpha1.Color) bool {
	steps, cs := d.settings.steps, *d.progress()
	if d.status.PromoteRevision == d.observed.Revision {
		cs.Step = int32(len(steps)) //nolint:gosec // G115: at most 50 canary steps (CRD), a few per replica for rolling
	}
	for int(cs.Step) < len(steps) {
		i := int(cs.Step)
		// A route holds the weight the steps before this one reached.
		d.routeTo(setWeightAt(steps, i-1))
		pods := d.newPodsAt(i)
		cs.SetWeight = percent(pods, d.settings.replicas)
		if d.settings.canary != nil {
			cs.SetWeight = setWeightAt(steps, i)
		}
		d.serveNew(next, pods)
		if !d.stepDone(next, i, pods) {
			return false
		}
		d.emit(Event{Reason: v1alpha1.ReasonCanaryStepComplete, Message: fmt.Sprintf("step %d/%d done (%s) at %s", i+1, len(steps), DescribeStep(&steps[i]), Achieved(cs))})
		cs.Step++
		cs.StepStartedAt = d.microtime()
	}
	return true
}

// newPodsAt is how many new pods steps[:i+1] ask for: a canary's for its
// last setWeight beside the stable ones, a rolling update's last batch.
func (d *decider) newPodsAt(i int) int32 {
	if d.settings.route != "" {
		return RoutedCanaryPods(setWeightAt(d.settings.steps, i), d.settings.replicas)
	}
	if d.settings.canary != nil {
		return CanaryPods(setWeightAt(d.settings.steps, i), d.settings.replicas)
	}
	for ; i >= 0; i-- {
		if d.settings.steps[i].Pods > 0 {
			return d.settings.steps[i].Pods
		}
	}
	return 0
}

// setWeightAt is the weight steps[:i+1] ask for: the last setWeight.
func setWeightAt(steps []Step, i int) int32 {
	for ; i >= 0; i-- {
		if i < len(steps) && steps[i].Weight != nil {
			return *steps[i].Weight
		}
	}
	return 0
}

// serveNew runs pods pods of the current revision on next (a rolling
// update within its surge, the stable color giving up one pod for each
// new one ready, within its unavailability) and, when there are any and
// next runs no pod of an older revision, has the active Service select
// both colors (with traffic routing it stays on the stable color: the
// route sends the canary its share through the preview Service).
func (d *decider) serveNew(next v1alpha1.Color, pods int32) {
	rev := d.observed.Revision
	if d.settings.rolling != nil {
		pods = d.rollingStep(next, pods)
	}
	d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: pods}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = next
	}
	if cs := d.observed.Colors[next]; pods > 0 && cs.Revision == rev && cs.Stale == 0 {
		d.plan.ActiveColor, d.plan.ActiveBoth = d.status.StableColor, d.settings.route == ""
	}
}

// stepDone runs step i and reports whether it is done.
func (d *decider) stepDone(next v1alpha1.Color, i int, pods int32) bool {
	steps, cs := d.settings.steps, *d.progress()
	step := &steps[i]
	where := fmt.Sprintf("step %d/%d at %s", i+1, len(steps), Achieved(cs))
	switch {
	case step.Weight != nil || step.Pods > 0:
		return d.newPodsServe(next, pods, fmt.Sprintf("step %d/%d: %s", i+1, len(steps), DescribeStep(step))) && d.stableGaveWay(pods) && d.routedTo(i, step)
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
		failed := v1alpha1.ReasonStepAnalysisFailed
		if step.Batch > 0 {
			failed = v1alpha1.ReasonBatchAnalysisFailed
		}
		return d.analysisPassed(step.Stage, step.Checks, failed, v1alpha1.ReasonAnalysisRunning, where+": analysis running")
	}
}

// pauseReleased reports whether `promote` released the pause at step i.
func pauseReleased(cs *v1alpha1.StepStatus, i int32) bool {
	return cs.PromotedStep != nil && *cs.PromotedStep == i
}

// newPodsServe reports whether next has want ready pods of the current
// revision, behind the preview Service when there is one and behind the
// active Service (the weight is reached); past the progress deadline,
// counted from the step's start, it aborts the revision.
func (d *decider) newPodsServe(next v1alpha1.Color, want int32, what string) bool {
	if d.newColorReady(next, want) {
		if d.settings.route != "" {
			// Ready behind the preview Service, which the route sends to.
			return true
		}
		if got := d.observed.Active.ReadyByColor[next]; !d.observed.Active.Both || got < want {
			d.progressing(v1alpha1.ReasonWaitingForEndpoints, fmt.Sprintf("%s: active Service %s lists %d/%d canary endpoints", what, d.observed.Spec.ActiveService, got, want))
		} else {
			return true
		}
	}
	deadline := (*d.progress()).StepStartedAt.Add(d.settings.progressDeadline)
	if !d.now().Before(deadline) {
		d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("%s: not ready within %v (%d/%d ready)", what, d.settings.progressDeadline, d.readyAt(next, d.observed.Revision), want))
		return false
	}
	d.wake(deadline)
	return false
}

// backgroundPassed runs the background analysis once the new color has
// taken traffic; a failure aborts the revision. A check still running does
// not hold the steps.
func (d *decider) backgroundPassed(v1alpha1.Color) bool {
	checks := d.settings.background
	if len(checks) == 0 || (*d.progress()).TrafficAt == nil {
		return true
	}
	if d.analysis(v1alpha1.Background, checks) == v1alpha1.AnalysisFailed {
		d.abort(v1alpha1.ReasonBackgroundFailed, d.failedChecks(v1alpha1.Background))
		return false
	}
	return true
}
