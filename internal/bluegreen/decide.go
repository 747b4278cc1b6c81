package bluegreen

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Decide computes the next step of a Rollout from observed state
// alone. It is pure: the same Observed always gives the same Plan.
//
// The states, in order of precedence:
//   - initial: nothing was ever promoted; bring up blue and point both
//     Services at it once every replica is ready.
//   - steady: the current revision is the stable one; keep the stable color
//     at the desired size, both Services on it, and scale the idle color down
//     once its scale-down time has come (it stays warm until then).
//   - aborted: the current revision was aborted; the active Service returns
//     to the stable color and the failed color is scaled down after the delay.
//   - rollout: the current revision goes to the idle color: pre-deploy Job,
//     scale-up, ready endpoints on the preview Service, pre-promotion
//     analysis, promotion (automatic or manual), full scale, switch,
//     post-promotion analysis, then it becomes stable.
//   - canary and rolling: as rollout, but the idle color takes a share of
//     the active Service's traffic beside the stable one, step by step
//     (canary.go); in a rolling update the stable color shrinks as the new
//     one grows, a batch at a time (rolling.go).
func Decide(o Observed) Plan {
	d := &decider{observed: o, settings: settingsOf(&o.Spec)}
	d.plan = Plan{Colors: map[v1alpha1.Color]ColorPlan{}, Status: *o.Status.DeepCopy()}
	d.status = &d.plan.Status
	d.begin()
	switch {
	case d.servicesUnusable():
	case d.status.StableColor == "":
		d.initial()
	case o.Revision == d.status.StableRevision:
		d.steady()
	case d.status.AbortedRevision == o.Revision:
		d.aborted()
	case d.settings.canary != nil || d.settings.rolling != nil:
		d.stepped()
	default:
		d.rollout()
	}
	d.finish()
	return d.plan
}

type decider struct {
	observed Observed
	settings settings
	plan     Plan
	// status is the plan's status, being written.
	status *v1alpha1.RolloutStatus
	phase  v1alpha1.Phase
	// reason and message explain the phase in the Progressing condition.
	reason, message string
	wakeAt          *time.Time
}

func (d *decider) now() time.Time { return d.observed.Now }

func (d *decider) begin() {
	st, o := d.status, d.observed
	st.ObservedGeneration = o.Generation
	if st.CurrentRevision != o.Revision {
		d.replaced(st.CurrentRevision)
		st.CurrentRevision = o.Revision
		st.Analysis = nil
		st.PreviewReadyAt = nil
		st.PromotedAt = nil
		st.RolloutStartedAt = nil
		st.Canary, st.Rolling = nil, nil
		if o.Revision != st.StableRevision {
			st.RolloutStartedAt = d.microtime()
			if st.StableColor != "" {
				d.emit(Event{Reason: v1alpha1.ReasonNewRevision, Message: fmt.Sprintf("rolling out revision %s (%s)", o.Revision, images(&o.Spec))})
			}
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector); err == nil {
		st.Selector = sel.String()
	}
	for _, c := range []v1alpha1.Color{v1alpha1.Blue, v1alpha1.Green} {
		cs := o.Colors[c]
		*colorStatus(st, c) = v1alpha1.ColorStatus{Revision: cs.Revision, Replicas: cs.Replicas, ReadyReplicas: cs.Ready}
	}
}

// replaced records a rollout still in flight when its template was
// replaced: reverted to the stable revision, a rollback by hand (RolledBack
// once it had taken traffic, else Aborted); otherwise Superseded.
func (d *decider) replaced(old string) {
	st := d.status
	if old == "" || old == st.StableRevision || old == st.AbortedRevision {
		return
	}
	r := v1alpha1.RevisionRecord{Revision: old, Outcome: v1alpha1.OutcomeSuperseded, Reason: v1alpha1.ReasonSuperseded, DecidedBy: v1alpha1.DecidedByUser}
	if d.observed.Revision == st.StableRevision {
		r.Outcome, r.Reason = v1alpha1.OutcomeAborted, v1alpha1.ReasonReverted
		if d.tookTraffic() {
			r.Outcome = v1alpha1.OutcomeRolledBack
		}
	}
	d.record(r)
}

func colorStatus(st *v1alpha1.RolloutStatus, c v1alpha1.Color) *v1alpha1.ColorStatus {
	if c == v1alpha1.Blue {
		return &st.Blue
	}
	return &st.Green
}

// readyAt is how many ready pods color c has of revision rev.
func (d *decider) readyAt(c v1alpha1.Color, rev string) int32 {
	cs := d.observed.Colors[c]
	if cs.Revision != rev {
		return 0
	}
	return cs.Ready
}

// initial brings up the first revision on blue, after its pre-deploy Job.
func (d *decider) initial() {
	c, rev := v1alpha1.Blue, d.observed.Revision
	if !d.preDeployJobDone(c) {
		return
	}
	d.plan.Colors[c] = ColorPlan{Revision: rev, Replicas: d.settings.replicas}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = c
	}
	ready := d.readyAt(c, rev)
	if ready < d.settings.replicas {
		d.progressing(v1alpha1.ReasonInitialDeploy, fmt.Sprintf("first revision %s: %d/%d ready", rev, ready, d.settings.replicas))
		d.checkInitialDeadline()
		return
	}
	d.plan.ActiveColor = c
	if d.observed.Active.Color != c {
		d.emit(Event{Reason: v1alpha1.ReasonActiveServiceSwitched, Message: fmt.Sprintf("active Service %s now selects %s (revision %s)", d.observed.Spec.ActiveService, c, rev)})
		d.progressing(v1alpha1.ReasonInitialDeploy, "switching the active Service to "+string(c))
		return
	}
	d.promoteStable(c, rev)
	d.steady()
}

// servicesUnusable reports Services the rollout cannot switch: one that does
// not exist, or one another rollout has claimed. Nothing is changed then;
// the rollout is Degraded (terminal until the Service appears or the other
// rollout lets it go) and says which Service and why.
func (d *decider) servicesUnusable() bool {
	o := d.observed
	services := []struct {
		role, name string
		state      ServiceState
	}{{"active", o.Spec.ActiveService, o.Active}}
	if o.Spec.PreviewService != "" {
		services = append(services, struct {
			role, name string
			state      ServiceState
		}{"preview", o.Spec.PreviewService, o.Preview})
	}
	for _, svc := range services {
		switch {
		case !svc.state.Exists:
			d.reason = v1alpha1.ReasonServiceMissing
			d.message = fmt.Sprintf("%s Service %s not found; create it (the chart does) so traffic can be switched", svc.role, svc.name)
		case svc.state.ClaimedBy != "":
			d.reason = v1alpha1.ReasonServiceConflict
			d.message = fmt.Sprintf("%s Service %s belongs to Rollout %s; this rollout leaves it alone (point spec.%sService at a Service of its own, or delete one of the two)",
				svc.role, svc.name, svc.state.ClaimedBy, svc.role)
		default:
			continue
		}
		d.phase = v1alpha1.PhaseDegraded
		if c := meta.FindStatusCondition(o.Status.Conditions, v1alpha1.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue || c.Message != d.message {
			d.emit(Event{Warning: true, Reason: d.reason, Message: d.message})
		}
		return true
	}
	return false
}

// checkInitialDeadline reports a first revision that does not become ready in
// time; with no stable color to return to there is nothing to abort to.
func (d *decider) checkInitialDeadline() {
	start := d.status.RolloutStartedAt
	if start == nil {
		return
	}
	deadline := start.Add(d.settings.progressDeadline)
	if d.now().Before(deadline) {
		d.wake(deadline)
		return
	}
	d.phase = v1alpha1.PhaseDegraded
	d.reason = v1alpha1.ReasonProgressDeadline
	d.message = fmt.Sprintf("first revision %s not ready after %v", d.observed.Revision, d.settings.progressDeadline)
}

// promoteStable records color c running rev as the stable color.
func (d *decider) promoteStable(c v1alpha1.Color, rev string) {
	st := d.status
	r := v1alpha1.RevisionRecord{Revision: rev, Outcome: v1alpha1.OutcomePromoted, Reason: v1alpha1.ReasonRolloutComplete, DecidedBy: d.promotedBy()}
	if st.StableRevision != "" && st.StableRevision != rev && d.knownGood(rev) {
		r.RollbackOf = st.StableRevision
	}
	d.record(r)
	st.StableColor, st.StableRevision = c, rev
	st.RolloutStartedAt, st.PreviewReadyAt, st.Canary, st.Rolling = nil, nil, nil, nil
	d.emit(Event{Reason: v1alpha1.ReasonRolloutComplete, Message: fmt.Sprintf("revision %s is stable on %s (%s)", rev, c, images(&d.observed.Spec)), Notify: true})
}

// promotedBy is who promoted the current revision: the user when `rollout
// promote` named it before automatic promotion was due (or with none).
func (d *decider) promotedBy() v1alpha1.Decider {
	st := d.status
	if d.settings.canary != nil || d.settings.rolling != nil {
		// A person promoted it who skipped the steps or released a pause.
		if p := *d.progress(); st.PromoteRevision == d.observed.Revision || (p != nil && p.PromotedStep != nil) {
			return v1alpha1.DecidedByUser
		}
		return v1alpha1.DecidedByController
	}
	if st.PromoteRevision != d.observed.Revision || st.PreviewReadyAt == nil || st.PromotedAt == nil {
		return v1alpha1.DecidedByController
	}
	if d.settings.autoPromote && !st.PromotedAt.Time.Before(st.PreviewReadyAt.Add(d.settings.autoPromoteAfter)) {
		return v1alpha1.DecidedByController
	}
	return v1alpha1.DecidedByUser
}

// steady keeps the stable color serving at the desired size.
func (d *decider) steady() {
	stable, rev := d.status.StableColor, d.status.StableRevision
	d.plan.Colors[stable] = ColorPlan{Revision: rev, Replicas: d.settings.replicas}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = stable
	}
	if d.observed.Active.Color != stable && !d.switchActive(stable, rev, "back to the stable revision") {
		return
	}
	d.plan.ActiveColor = stable
	d.scaleDownIdle(stable.Other())
	ready := d.readyAt(stable, rev)
	if ready < d.settings.replicas {
		d.phase = v1alpha1.PhaseDegraded
		d.reason, d.message = v1alpha1.ReasonNotReady, fmt.Sprintf("%d/%d replicas of %s ready", ready, d.settings.replicas, stable)
		return
	}
	d.phase = v1alpha1.PhaseHealthy
	d.reason, d.message = v1alpha1.ReasonRolloutComplete, fmt.Sprintf("revision %s serves on %s", rev, stable)
}

// switchActive points the active Service at color c running rev when every
// desired replica of it is ready; otherwise the Service stays where it is.
func (d *decider) switchActive(c v1alpha1.Color, rev, why string) bool {
	ready := d.readyAt(c, rev)
	if ready < d.settings.replicas {
		on := string(d.observed.Active.Color)
		if d.observed.Active.Both {
			on = "both colors"
		}
		d.progressing(v1alpha1.ReasonStableColorNotReady, fmt.Sprintf("active Service stays on %s: %s has %d/%d ready", on, c, ready, d.settings.replicas))
		return false
	}
	d.plan.ActiveColor = c
	d.emit(Event{Reason: v1alpha1.ReasonActiveServiceSwitched, Message: fmt.Sprintf("active Service %s now selects %s (revision %s): %s", d.observed.Spec.ActiveService, c, rev, why)})
	return true
}

// scaleDownIdle schedules the idle color's scale-down, and performs it when
// due: the scale-down delay has passed since the active Service stopped
// selecting it, and the active Service's EndpointSlices no longer list any
// of its pods (while they do, kube-proxy may still route connections to
// them). A delay of 0 waits for neither: the color goes on the next pass
// after the switch (the plan applies Deployments before Services, so never
// in the pass that moves traffic off it).
func (d *decider) scaleDownIdle(c v1alpha1.Color) {
	cs := d.observed.Colors[c]
	if !cs.Exists || cs.Replicas == 0 {
		return
	}
	switch {
	case cs.ScaleDownAt == nil:
		at := d.now().Add(d.settings.scaleDownDelay)
		d.plan.Colors[c] = ColorPlan{Revision: cs.Revision, Replicas: cs.Replicas, ScaleDownAt: &at}
		d.wake(at)
	case cs.ScaleDownAt != nil && d.now().Before(*cs.ScaleDownAt):
		d.wake(*cs.ScaleDownAt)
	case d.settings.scaleDownDelay > 0 && d.observed.Active.Listed[c] > 0:
		// The EndpointSlice watch brings the next look; the timer is a
		// backstop.
		d.wake(d.now().Add(endpointsRecheck))
	default:
		d.scaleDown(c)
	}
}

// scaleDown scales color c to zero now.
func (d *decider) scaleDown(c v1alpha1.Color) {
	cs := d.observed.Colors[c]
	if !cs.Exists || cs.Replicas == 0 {
		return
	}
	d.plan.Colors[c] = ColorPlan{Revision: cs.Revision, Replicas: 0}
	d.emit(Event{Reason: v1alpha1.ReasonScaledDown, Message: fmt.Sprintf("scaled %s (revision %s) to zero", c, cs.Revision)})
}

// aborted returns traffic to the stable color and retires the failed one.
func (d *decider) aborted() {
	stable := d.status.StableColor
	sc := d.observed.Colors[stable]
	d.plan.Colors[stable] = ColorPlan{Revision: d.status.StableRevision, Replicas: max(d.settings.replicas, sc.Replicas)}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = stable
	}
	d.phase = v1alpha1.PhaseAborted
	d.reason, d.message = d.status.AbortReason, d.status.AbortMessage
	if was := d.observed.Status.Phase; (was != v1alpha1.PhaseAborted && was != v1alpha1.PhaseDegraded) || d.observed.Status.AbortedRevision != d.observed.Revision {
		// First pass after the abort (by a check, the deadline or a user);
		// later ones are Aborted, or Degraded while the stable color is
		// not ready to take the traffic back.
		d.emit(Event{Warning: true, Reason: d.status.AbortReason, Message: fmt.Sprintf("revision %s aborted: %s", d.observed.Revision, d.status.AbortMessage), Notify: true})
		// Every abort is recorded here, a user's (written by `rollout
		// abort`) as the controller's: RolledBack once it had taken traffic.
		r := v1alpha1.RevisionRecord{Revision: d.observed.Revision, Outcome: v1alpha1.OutcomeAborted, Reason: d.status.AbortReason, DecidedBy: v1alpha1.DecidedByController}
		if d.tookTraffic() {
			r.Outcome = v1alpha1.OutcomeRolledBack
		}
		if d.status.AbortReason == v1alpha1.ReasonUserAbort {
			r.DecidedBy = v1alpha1.DecidedByUser
		}
		d.record(r)
	}
	// Whatever this pass planned for the active Service before the abort
	// (both colors, for a canary or rolling update) no longer holds.
	d.plan.ActiveColor, d.plan.ActiveBoth = "", false
	// A retry starts the steps over.
	d.status.Canary, d.status.Rolling = nil, nil
	canary := d.settings.canary != nil
	switch {
	case canary && d.routeHeld():
		// The route takes the canary's weight back first.
		d.routeTo(0)
		d.message += fmt.Sprintf("; HTTPRoute %s: the canary's weight goes back to 0 before it scales down", d.settings.route)
	case canary:
		// The canary goes at once, the stable color serving in full beside
		// it. A rolling update's new pods serve until the stable color is
		// back to full size and takes the traffic alone.
		d.scaleDown(stable.Other())
	}
	if d.observed.Active.Color != stable && !d.switchActive(stable, d.status.StableRevision, "rollback after abort") {
		d.phase = v1alpha1.PhaseDegraded
		return
	}
	d.plan.ActiveColor = stable
	if !canary {
		d.scaleDownIdle(stable.Other())
	}
}

// tookTraffic reports whether the current rollout had taken production
// traffic: switched to, or as a canary.
func (d *decider) tookTraffic() bool {
	for _, p := range []*v1alpha1.StepStatus{d.status.Canary, d.status.Rolling} {
		if p != nil && p.TrafficAt != nil {
			return true
		}
	}
	return d.status.PromotedAt != nil
}

// abort marks the current revision aborted and rolls back.
func (d *decider) abort(reason, message string) {
	st := d.status
	st.AbortedRevision, st.AbortReason, st.AbortMessage = d.observed.Revision, reason, message
	d.aborted()
}

// rollout takes the current revision through its stages, in order: the
// stable color kept serving, the progress deadline, an instant switch to a
// warm known-good color, the pre-deploy Job, scale-up with ready endpoints
// on the preview Service, pre-promotion analysis, the promotion gate, then
// full scale and the switch. Each stage returns whether the rollout gets
// past it in this pass. After the switch, postPromotion takes over.
func (d *decider) rollout() {
	stable, next, switched := d.holdStable()
	if switched {
		return
	}
	d.keepStableActive(stable)
	for _, stage := range []func(v1alpha1.Color) bool{
		d.withinDeadline, d.notWarm, d.preDeployJobDone, d.scaledUp, d.prePromotionPassed, d.promotionDue,
	} {
		if !stage(next) {
			return
		}
	}
	d.switchTo(next)
}

// holdStable keeps the stable color at no fewer than the desired replicas
// while a rollout is in flight (a failure can then return all traffic to
// it at once) and hands a rollout whose traffic is already on the next
// color to switched, reporting so.
func (d *decider) holdStable() (stable, next v1alpha1.Color, switched bool) {
	stable = d.status.StableColor
	next = stable.Other()
	d.plan.Colors[stable] = ColorPlan{Revision: d.status.StableRevision, Replicas: max(d.settings.replicas, d.observed.Colors[stable].Replicas)}
	if d.observed.Active.Color == next {
		d.switched(stable, next)
		return stable, next, true
	}
	return stable, next, false
}

// switched handles a rollout whose traffic is already on next: the current
// revision promoted there is in post-promotion; a revision since replaced
// sends traffic back to the stable color before the idle one is touched.
func (d *decider) switched(stable, next v1alpha1.Color) {
	rev := d.observed.Revision
	if d.observed.Colors[next].Revision == rev && d.status.PromotedAt == nil && d.promotedHere() {
		// This rollout's promotion switched the Service, and the status
		// write that followed was lost (or is not seen yet): record it now.
		d.promoted(next)
	}
	if d.observed.Colors[next].Revision == rev && d.status.PromotedAt != nil {
		d.postPromotion(next)
		return
	}
	if d.switchActive(stable, d.status.StableRevision, "revision superseded") {
		d.progressing(v1alpha1.ReasonSuperseded, "returning traffic to the stable color before rolling out "+rev)
	}
}

// keepStableActive keeps the active Service on the stable color, and
// restores it (when safe) if someone pointed it elsewhere.
func (d *decider) keepStableActive(stable v1alpha1.Color) {
	if d.observed.Active.Color == stable {
		d.plan.ActiveColor = stable
		return
	}
	d.switchActive(stable, d.status.StableRevision, "restoring the stable selector")
}

// withinDeadline aborts a revision whose new color is not ready within the
// progress deadline.
func (d *decider) withinDeadline(next v1alpha1.Color) bool {
	st := d.status
	if st.PreviewReadyAt != nil || st.RolloutStartedAt == nil {
		return true
	}
	deadline := st.RolloutStartedAt.Add(d.settings.progressDeadline)
	if !d.now().Before(deadline) {
		d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("not ready within %v (%d/%d ready)", d.settings.progressDeadline, d.readyAt(next, d.observed.Revision), d.settings.previewReplicas))
		return false
	}
	d.wake(deadline)
	return true
}

// notWarm passes unless the revision is a known-good one still warm on the
// idle color as it becomes current again (undo, or the template reverted):
// then traffic switches to it at once. A color that had to be re-templated
// goes through the gates like any other rollout.
func (d *decider) notWarm(next v1alpha1.Color) bool {
	o, rev := d.observed, d.observed.Revision
	nc := o.Colors[next]
	firstSight := o.Status.CurrentRevision != rev
	if !firstSight || nc.Revision != rev || d.readyAt(next, rev) < d.settings.replicas || !d.knownGood(rev) {
		return true
	}
	d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: max(d.settings.replicas, nc.Replicas)}
	if o.Spec.PreviewService != "" {
		d.plan.PreviewColor = next
	}
	d.plan.ActiveColor = next
	d.status.PromotedAt = d.timestamp()
	d.emit(Event{Reason: v1alpha1.ReasonFastRollback, Message: fmt.Sprintf("revision %s was still warm on %s: active Service switched at once", rev, next), Notify: true})
	d.progressing(v1alpha1.ReasonFastRollback, "switched to the warm color "+string(next))
	return false
}

// scaledUp runs the revision on next (at the preview size, or the full
// size once promotion is due) and passes when it is ready behind the
// preview Service.
func (d *decider) scaledUp(next v1alpha1.Color) bool {
	rev := d.observed.Revision
	target := d.settings.previewReplicas
	if d.promotionGateOpen() {
		target = d.settings.replicas
	}
	d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: target}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = next
	}
	if !d.newColorReady(next, d.settings.previewReplicas) {
		return false
	}
	if d.status.PreviewReadyAt == nil {
		d.status.PreviewReadyAt = d.timestamp()
		d.emit(Event{Reason: v1alpha1.ReasonReady, Message: fmt.Sprintf("revision %s ready on %s", rev, next)})
	}
	return true
}

// prePromotionPassed passes once the pre-promotion checks have.
func (d *decider) prePromotionPassed(v1alpha1.Color) bool {
	return d.analysisPassed(v1alpha1.PrePromotion, d.settings.prePromotion, v1alpha1.ReasonPrePromotionFailed,
		v1alpha1.ReasonAnalysisRunning, "pre-promotion analysis running")
}

// promotionDue passes once automatic promotion is due or `promote` named
// the revision; until then the rollout waits (Paused for a manual one).
func (d *decider) promotionDue(next v1alpha1.Color) bool {
	if d.promotionGateOpen() {
		return true
	}
	if d.settings.autoPromote {
		at := d.status.PreviewReadyAt.Add(d.settings.autoPromoteAfter)
		d.wake(at)
		d.progressing(v1alpha1.ReasonAwaitingPromotion, fmt.Sprintf("auto-promotion at %s", at.UTC().Format(time.RFC3339)))
		return false
	}
	d.phase = v1alpha1.PhasePaused
	d.reason, d.message = v1alpha1.ReasonAwaitingPromotion, fmt.Sprintf("revision %s ready on %s; run `ragdeploy rollout promote`", d.observed.Revision, next)
	return false
}

// switchTo brings next to full size (when it ran at a smaller preview
// size) and points the active Service at it.
func (d *decider) switchTo(next v1alpha1.Color) {
	rev := d.observed.Revision
	if d.settings.previewReplicas < d.settings.replicas {
		d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: d.settings.replicas}
		if !d.newColorReady(next, d.settings.replicas) {
			return
		}
	}
	d.plan.ActiveColor, d.plan.ActiveBoth = next, false
	d.promoted(next)
	d.progressing(v1alpha1.ReasonPromoted, "switched to "+string(next))
}

// promotedHere reports whether this rollout's promotion switched the
// active Service: its record in the status, or the mark the switch left on
// the Service (the status write follows the switch).
func (d *decider) promotedHere() bool {
	return d.status.PromotedAt != nil || d.observed.Active.Promotion == PromotionMark(d.status)
}

// promoted records the switch of the active Service to next.
func (d *decider) promoted(next v1alpha1.Color) {
	d.status.PromotedAt = d.timestamp()
	d.emit(Event{Reason: v1alpha1.ReasonPromoted, Message: fmt.Sprintf("active Service %s now selects %s (revision %s)", d.observed.Spec.ActiveService, next, d.observed.Revision)})
}

// preDeployJobDone reports whether color c may run the current revision:
// there is no pre-deploy Job, it succeeded, or c already runs the revision.
// Otherwise it starts the Job or waits for it; a failed Job aborts the
// revision (or, for the first revision, with nothing to return to, marks
// the rollout Degraded).
func (d *decider) preDeployJobDone(c v1alpha1.Color) bool {
	o, rev := d.observed, d.observed.Revision
	if o.Spec.PreDeployJob == nil || o.Colors[c].Revision == rev {
		return true
	}
	switch o.PreDeployJob {
	case JobSucceeded:
		return true
	case JobFailed:
		msg := "pre-deploy Job failed; the new color was not scaled up"
		if d.status.StableColor == "" {
			d.phase, d.reason, d.message = v1alpha1.PhaseDegraded, v1alpha1.ReasonPreDeployJobFailed, msg
			return false
		}
		d.abort(v1alpha1.ReasonPreDeployJobFailed, msg)
	default:
		d.plan.StartPreDeployJob = o.PreDeployJob == JobAbsent
		d.progressing(v1alpha1.ReasonPreDeployJobRunning, "waiting for the pre-deploy Job of revision "+rev)
	}
	return false
}

// newColorReady reports whether the new color has want ready pods of the
// current revision and, when there is a preview Service, as many ready
// endpoints behind it.
func (d *decider) newColorReady(c v1alpha1.Color, want int32) bool {
	ready := d.readyAt(c, d.observed.Revision)
	if ready < want {
		d.progressing(v1alpha1.ReasonScalingUp, fmt.Sprintf("%s: %d/%d ready", c, ready, want))
		return false
	}
	// Until the older revision's pods are gone, the preview Service (and
	// analysis through it) would still reach them.
	if stale := d.observed.Colors[c].Stale; stale > 0 {
		d.progressing(v1alpha1.ReasonScalingUp, fmt.Sprintf("%s: %d pods of an older revision still running", c, stale))
		return false
	}
	if d.observed.Spec.PreviewService != "" && (d.observed.Preview.Color != c || d.observed.Preview.ReadyEndpoints < want) {
		d.progressing(v1alpha1.ReasonWaitingForEndpoints, fmt.Sprintf("preview Service %s: %d/%d ready endpoints", d.observed.Spec.PreviewService, d.observed.Preview.ReadyEndpoints, want))
		return false
	}
	return true
}

// promotionGateOpen: automatic promotion is due, or `promote` named this revision.
func (d *decider) promotionGateOpen() bool {
	st := d.status
	if st.PromoteRevision == d.observed.Revision {
		return true
	}
	return d.settings.autoPromote && st.PreviewReadyAt != nil && !d.now().Before(st.PreviewReadyAt.Add(d.settings.autoPromoteAfter))
}

// postPromotion watches the new color after the switch.
func (d *decider) postPromotion(next v1alpha1.Color) {
	rev := d.observed.Revision
	d.plan.ActiveColor = next
	d.plan.Colors[next] = ColorPlan{Revision: rev, Replicas: d.settings.replicas}
	if d.observed.Spec.PreviewService != "" {
		d.plan.PreviewColor = next
	}
	if !d.knownGood(rev) && !d.analysisPassed(v1alpha1.PostPromotion, d.settings.postPromotion, v1alpha1.ReasonPostPromotionFailed,
		v1alpha1.ReasonPostPromotionAnalysis, "post-promotion analysis running; the previous color stays warm") {
		return
	}
	d.promoteStable(next, rev)
	d.steady()
}

// knownGood reports whether rev was promoted before.
func (d *decider) knownGood(rev string) bool {
	for _, h := range d.status.History {
		if h.Revision == rev && h.PromotedAt != nil {
			return true
		}
	}
	return false
}

// record puts a finished rollout at the head of the history: r with its
// start (the current rollout's, when r is the current revision), its
// finish (now) and the images and image creation time of the template
// (when r is the current revision). The history keeps every rollout of
// the newest historyLimit+1 revisions, at most maxHistory.
func (d *decider) record(r v1alpha1.RevisionRecord) {
	st := d.status
	r.StartedAt, r.FinishedAt = st.RolloutStartedAt, d.microtime()
	if r.Revision == d.observed.Revision {
		r.Images = imageList(&d.observed.Spec)
		r.ImageCreatedAt = imageCreated(&d.observed.Spec)
	}
	if r.Outcome == v1alpha1.OutcomePromoted {
		r.PromotedAt = d.timestamp()
	}
	d.plan.Recorded = append(d.plan.Recorded, r)
	st.History = append([]v1alpha1.RevisionRecord{r}, st.History...)
	revisions := map[string]bool{}
	kept := st.History[:0]
	for _, h := range st.History {
		if len(kept) == maxHistory {
			break
		}
		if !revisions[h.Revision] {
			if len(revisions) > d.settings.historyLimit {
				continue
			}
			revisions[h.Revision] = true
		}
		kept = append(kept, h)
	}
	st.History = kept
}

// maxHistory bounds the history, whatever revisionHistoryLimit says.
const maxHistory = 100

// recovered dates the recovery of the newest rollout when it failed: the
// stable revision serves again, every replica ready behind the active
// Service.
func (d *decider) recovered() {
	st, o := d.status, d.observed
	if len(st.History) == 0 {
		return
	}
	h := &st.History[0]
	if h.RecoveredAt != nil || (h.Outcome != v1alpha1.OutcomeAborted && h.Outcome != v1alpha1.OutcomeRolledBack) {
		return
	}
	if st.StableColor == "" || o.Active.Color != st.StableColor || o.Active.ReadyEndpoints < d.settings.replicas ||
		d.readyAt(st.StableColor, st.StableRevision) < d.settings.replicas {
		return
	}
	h.RecoveredAt = d.microtime()
	d.plan.Recovered = h.DeepCopy()
}

func (d *decider) progressing(reason, message string) {
	d.phase = v1alpha1.PhaseProgressing
	d.reason, d.message = reason, message
}

// emit records an event of the plan.
func (d *decider) emit(e Event) {
	d.plan.Events = append(d.plan.Events, e)
}

// wake asks for another look at t at the latest.
func (d *decider) wake(t time.Time) {
	if d.wakeAt == nil || t.Before(*d.wakeAt) {
		d.wakeAt = &t
	}
}

// microtime is now as the API server stores a MicroTime (to the
// microsecond), so that what is counted from the plan equals what is read
// back.
func (d *decider) microtime() *metav1.MicroTime {
	t := metav1.NewMicroTime(d.now().Truncate(time.Microsecond))
	return &t
}

func (d *decider) timestamp() *metav1.Time {
	t := metav1.NewTime(d.now())
	return &t
}

// finish fills the summary fields and conditions.
func (d *decider) finish() {
	st, o, p := d.status, d.observed, &d.plan
	st.ActiveColor = o.Active.Color
	if p.ActiveColor != "" {
		st.ActiveColor = p.ActiveColor
	}
	st.PreviewColor = o.Preview.Color
	if p.PreviewColor != "" {
		st.PreviewColor = p.PreviewColor
	}
	if st.ActiveColor != "" {
		cs := o.Colors[st.ActiveColor]
		st.Replicas, st.ReadyReplicas = cs.Replicas, cs.Ready
	}
	d.routeAtRest()
	st.Phase, st.Message = d.phase, d.message
	d.recovered()
	d.conditions()
	if d.wakeAt != nil {
		p.RequeueAfter = max(d.wakeAt.Sub(d.now()), time.Millisecond)
	}
}

func (d *decider) conditions() {
	st, gen := d.status, d.observed.Generation
	set := conditionSetter(&st.Conditions, gen, d.now())
	inFlight := d.phase == v1alpha1.PhaseProgressing || d.phase == v1alpha1.PhasePaused
	set(v1alpha1.ConditionProgressing, inFlight, d.reason, d.message)
	promoted := st.StableRevision != "" && st.StableRevision == d.observed.Revision
	set(v1alpha1.ConditionPromoted, promoted, map[bool]string{true: v1alpha1.ReasonRolloutComplete, false: d.reason}[promoted], "")
	aborted := st.AbortedRevision != "" && st.AbortedRevision == d.observed.Revision
	set(v1alpha1.ConditionAborted, aborted, map[bool]string{true: st.AbortReason, false: "NotAborted"}[aborted], map[bool]string{true: st.AbortMessage}[aborted])
	set(v1alpha1.ConditionDegraded, d.phase == v1alpha1.PhaseDegraded, d.reason, map[bool]string{true: d.message}[d.phase == v1alpha1.PhaseDegraded])
	available := d.observed.Active.Exists && d.observed.Active.Color != "" && d.observed.Active.ReadyEndpoints >= d.settings.replicas
	set(v1alpha1.ConditionAvailable, available, map[bool]string{true: v1alpha1.ReasonReady, false: v1alpha1.ReasonNotReady}[available],
		fmt.Sprintf("active Service has %d/%d ready endpoints", d.observed.Active.ReadyEndpoints, d.settings.replicas))
	// The kstatus conditions say what StateOf says of the status written.
	SetKstatusConditions(&st.Conditions, gen, d.now(), stateOf(gen, d.observed.Revision, st), d.reason, d.message,
		FailureReason(&v1alpha1.Rollout{Status: *st}))
}

// conditionSetter sets conditions in conds at generation gen, a status
// transition dated now ("None" for an empty reason).
func conditionSetter(conds *[]metav1.Condition, gen int64, now time.Time) func(t string, ok bool, reason, message string) {
	return func(t string, ok bool, reason, message string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		if reason == "" {
			reason = "None"
		}
		meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: status, Reason: reason, Message: message,
			ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)})
	}
}

// SetKstatusConditions sets Ready, Reconciling and Stalled, at generation
// gen, for a rollout in state (reason and message: its phase's; failure:
// why it failed). Paused for promotion, Ready is removed rather than False,
// so kstatus calls the rollout Current while `kubectl wait
// --for=condition=Ready` still waits for the promotion (see
// v1alpha1.ConditionStalled).
func SetKstatusConditions(conds *[]metav1.Condition, gen int64, now time.Time, state State, reason, message, failure string) {
	set := conditionSetter(conds, gen, now)
	switch state {
	case StateDone:
		set(v1alpha1.ConditionReady, true, v1alpha1.ReasonRolloutComplete, message)
		set(v1alpha1.ConditionReconciling, false, v1alpha1.ReasonRolloutComplete, "")
		set(v1alpha1.ConditionStalled, false, v1alpha1.ReasonRolloutComplete, "")
	case StateWaitingForPromotion:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReady)
		set(v1alpha1.ConditionReconciling, false, v1alpha1.ReasonAwaitingPromotion, message)
		set(v1alpha1.ConditionStalled, false, v1alpha1.ReasonAwaitingPromotion, "")
	case StateFailed:
		set(v1alpha1.ConditionReady, false, failure, message)
		set(v1alpha1.ConditionReconciling, false, failure, "")
		set(v1alpha1.ConditionStalled, true, failure, message)
	default:
		set(v1alpha1.ConditionReady, false, reason, message)
		set(v1alpha1.ConditionReconciling, true, reason, message)
		set(v1alpha1.ConditionStalled, false, reason, "")
	}
}

// imageCreated is the template's AnnotationImageCreated, when it holds an
// RFC 3339 time.
func imageCreated(spec *v1alpha1.RolloutSpec) *metav1.Time {
	t, err := time.Parse(time.RFC3339, spec.Template.Annotations[v1alpha1.AnnotationImageCreated])
	if err != nil {
		return nil
	}
	return &metav1.Time{Time: t}
}

func imageList(spec *v1alpha1.RolloutSpec) []string {
	var out []string
	for _, c := range spec.Template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

func images(spec *v1alpha1.RolloutSpec) string {
	return fmt.Sprint(imageList(spec))
}
