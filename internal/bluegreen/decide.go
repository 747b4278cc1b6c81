package bluegreen

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Decide computes the next step of a BlueGreenDeployment from observed state
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
func Decide(o Observed) Plan {
	d := &decider{o: o, s: settingsOf(&o.Spec)}
	d.p = Plan{Colors: map[v1alpha1.Color]ColorPlan{}, Status: *o.Status.DeepCopy()}
	d.st = &d.p.Status
	d.begin()
	switch {
	case d.servicesUnusable():
	case d.st.StableColor == "":
		d.initial()
	case o.Revision == d.st.StableRevision:
		d.steady()
	case d.st.AbortedRevision == o.Revision:
		d.aborted()
	default:
		d.rollout()
	}
	d.finish()
	return d.p
}

type decider struct {
	o     Observed
	s     settings
	p     Plan
	st    *v1alpha1.BlueGreenDeploymentStatus
	phase v1alpha1.Phase
	// reason and message explain the phase in the Progressing condition.
	reason, message string
	wakeAt          *time.Time
}

func (d *decider) now() time.Time { return d.o.Now }

func (d *decider) begin() {
	st, o := d.st, d.o
	st.ObservedGeneration = o.Generation
	if st.CurrentRevision != o.Revision {
		st.CurrentRevision = o.Revision
		st.Analysis = nil
		st.PreviewReadyAt = nil
		st.PromotedAt = nil
		st.RolloutStartedAt = nil
		if o.Revision != st.StableRevision {
			st.RolloutStartedAt = d.timestamp()
			if st.StableColor != "" {
				d.event(false, v1alpha1.ReasonNewRevision, fmt.Sprintf("rolling out revision %s (%s)", o.Revision, images(&o.Spec)), false)
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

func colorStatus(st *v1alpha1.BlueGreenDeploymentStatus, c v1alpha1.Color) *v1alpha1.ColorStatus {
	if c == v1alpha1.Blue {
		return &st.Blue
	}
	return &st.Green
}

// readyAt is how many ready pods color c has of revision rev.
func (d *decider) readyAt(c v1alpha1.Color, rev string) int32 {
	cs := d.o.Colors[c]
	if cs.Revision != rev {
		return 0
	}
	return cs.Ready
}

// initial brings up the first revision on blue, after its pre-deploy Job.
func (d *decider) initial() {
	c, rev := v1alpha1.Blue, d.o.Revision
	if !d.preDeployJobDone(c) {
		return
	}
	d.p.Colors[c] = ColorPlan{Revision: rev, Replicas: d.s.replicas}
	if d.o.Spec.PreviewService != "" {
		d.p.PreviewColor = c
	}
	ready := d.readyAt(c, rev)
	if ready < d.s.replicas {
		d.progressing(v1alpha1.ReasonInitialDeploy, fmt.Sprintf("first revision %s: %d/%d ready", rev, ready, d.s.replicas))
		d.checkInitialDeadline()
		return
	}
	d.p.ActiveColor = c
	if d.o.Active.Color != c {
		d.event(false, v1alpha1.ReasonActiveServiceSwitched, fmt.Sprintf("active Service %s now selects %s (revision %s)", d.o.Spec.ActiveService, c, rev), false)
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
	o := d.o
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
			d.message = fmt.Sprintf("%s Service %s belongs to BlueGreenDeployment %s; this rollout leaves it alone (point spec.%sService at a Service of its own, or delete one of the two)",
				svc.role, svc.name, svc.state.ClaimedBy, svc.role)
		default:
			continue
		}
		d.phase = v1alpha1.PhaseDegraded
		if c := meta.FindStatusCondition(o.Status.Conditions, v1alpha1.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue || c.Message != d.message {
			d.event(true, d.reason, d.message, false)
		}
		return true
	}
	return false
}

// checkInitialDeadline reports a first revision that does not become ready in
// time; with no stable color to return to there is nothing to abort to.
func (d *decider) checkInitialDeadline() {
	start := d.st.RolloutStartedAt
	if start == nil {
		return
	}
	deadline := start.Add(d.s.progressDeadline)
	if d.now().Before(deadline) {
		d.wake(deadline)
		return
	}
	d.phase = v1alpha1.PhaseDegraded
	d.reason = v1alpha1.ReasonProgressDeadline
	d.message = fmt.Sprintf("first revision %s not ready after %v", d.o.Revision, d.s.progressDeadline)
}

// promoteStable records color c running rev as the stable color.
func (d *decider) promoteStable(c v1alpha1.Color, rev string) {
	st := d.st
	st.StableColor, st.StableRevision = c, rev
	st.RolloutStartedAt, st.PreviewReadyAt = nil, nil
	d.record(rev, "Promoted", true)
	d.event(false, v1alpha1.ReasonRolloutComplete, fmt.Sprintf("revision %s is stable on %s (%s)", rev, c, images(&d.o.Spec)), true)
}

// steady keeps the stable color serving at the desired size.
func (d *decider) steady() {
	stable, rev := d.st.StableColor, d.st.StableRevision
	d.p.Colors[stable] = ColorPlan{Revision: rev, Replicas: d.s.replicas}
	if d.o.Spec.PreviewService != "" {
		d.p.PreviewColor = stable
	}
	if d.o.Active.Color != stable && !d.switchActive(stable, rev, "back to the stable revision") {
		return
	}
	d.p.ActiveColor = stable
	d.scaleDownIdle(stable.Other())
	ready := d.readyAt(stable, rev)
	if ready < d.s.replicas {
		d.phase = v1alpha1.PhaseDegraded
		d.reason, d.message = v1alpha1.ReasonNotReady, fmt.Sprintf("%d/%d replicas of %s ready", ready, d.s.replicas, stable)
		return
	}
	d.phase = v1alpha1.PhaseHealthy
	d.reason, d.message = v1alpha1.ReasonRolloutComplete, fmt.Sprintf("revision %s serves on %s", rev, stable)
}

// switchActive points the active Service at color c running rev when every
// desired replica of it is ready; otherwise the Service stays where it is.
func (d *decider) switchActive(c v1alpha1.Color, rev, why string) bool {
	ready := d.readyAt(c, rev)
	if ready < d.s.replicas {
		d.progressing(v1alpha1.ReasonStableColorNotReady, fmt.Sprintf("active Service stays on %s: %s has %d/%d ready", d.o.Active.Color, c, ready, d.s.replicas))
		return false
	}
	d.p.ActiveColor = c
	d.event(false, v1alpha1.ReasonActiveServiceSwitched, fmt.Sprintf("active Service %s now selects %s (revision %s): %s", d.o.Spec.ActiveService, c, rev, why), false)
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
	cs := d.o.Colors[c]
	if !cs.Exists || cs.Replicas == 0 {
		return
	}
	switch {
	case cs.ScaleDownAt == nil:
		at := d.now().Add(d.s.scaleDownDelay)
		d.p.Colors[c] = ColorPlan{Revision: cs.Revision, Replicas: cs.Replicas, ScaleDownAt: &at}
		d.wake(at)
	case cs.ScaleDownAt != nil && d.now().Before(*cs.ScaleDownAt):
		d.wake(*cs.ScaleDownAt)
	case d.s.scaleDownDelay > 0 && d.o.Active.Listed[c] > 0:
		// The EndpointSlice watch brings the next look; the timer is a
		// backstop.
		d.wake(d.now().Add(endpointsRecheck))
	default:
		d.p.Colors[c] = ColorPlan{Revision: cs.Revision, Replicas: 0}
		d.event(false, v1alpha1.ReasonScaledDown, fmt.Sprintf("scaled %s (revision %s) to zero", c, cs.Revision), false)
	}
}

// aborted returns traffic to the stable color and retires the failed one.
func (d *decider) aborted() {
	stable := d.st.StableColor
	sc := d.o.Colors[stable]
	d.p.Colors[stable] = ColorPlan{Revision: d.st.StableRevision, Replicas: max(d.s.replicas, sc.Replicas)}
	if d.o.Spec.PreviewService != "" {
		d.p.PreviewColor = stable
	}
	d.phase = v1alpha1.PhaseAborted
	d.reason, d.message = d.st.AbortReason, d.st.AbortMessage
	if d.o.Status.Phase != v1alpha1.PhaseAborted || d.o.Status.AbortedRevision != d.o.Revision {
		// First pass after the abort (by a check, the deadline or a user).
		d.event(true, d.st.AbortReason, fmt.Sprintf("revision %s aborted: %s", d.o.Revision, d.st.AbortMessage), true)
	}
	if d.o.Active.Color != stable && !d.switchActive(stable, d.st.StableRevision, "rollback after abort") {
		d.phase = v1alpha1.PhaseDegraded
		return
	}
	d.p.ActiveColor = stable
	d.scaleDownIdle(stable.Other())
}

// abort marks the current revision aborted and rolls back.
func (d *decider) abort(reason, message string) {
	st := d.st
	st.AbortedRevision, st.AbortReason, st.AbortMessage = d.o.Revision, reason, message
	outcome := "Aborted"
	if reason == v1alpha1.ReasonPostPromotionFailed {
		outcome = "RolledBack"
	}
	d.record(d.o.Revision, outcome, false)
	d.aborted()
}

// rollout takes the current revision through the stages to promotion.
func (d *decider) rollout() {
	st, o, rev := d.st, d.o, d.o.Revision
	stable := st.StableColor
	next := stable.Other()
	sc, nc := o.Colors[stable], o.Colors[next]
	// The live color never shrinks while a rollout is in flight.
	d.p.Colors[stable] = ColorPlan{Revision: st.StableRevision, Replicas: max(d.s.replicas, sc.Replicas)}

	if o.Active.Color == next {
		if nc.Revision == rev && st.PromotedAt != nil {
			d.postPromotion(next)
			return
		}
		// Traffic is on a revision that has since been replaced: return it
		// to the stable color before touching the idle one.
		if d.switchActive(stable, st.StableRevision, "revision superseded") {
			d.progressing(v1alpha1.ReasonSuperseded, "returning traffic to the stable color before rolling out "+rev)
		}
		return
	}
	if o.Active.Color == stable {
		d.p.ActiveColor = stable
	} else {
		// Someone pointed the Service elsewhere: restore it, when safe.
		d.switchActive(stable, st.StableRevision, "restoring the stable selector")
	}

	if st.PreviewReadyAt == nil && st.RolloutStartedAt != nil {
		deadline := st.RolloutStartedAt.Add(d.s.progressDeadline)
		if !d.now().Before(deadline) {
			d.abort(v1alpha1.ReasonProgressDeadline, fmt.Sprintf("not ready within %v (%d/%d ready)", d.s.progressDeadline, d.readyAt(next, rev), d.s.previewReplicas))
			return
		}
		d.wake(deadline)
	}

	// A known-good revision still warm on the idle color when it becomes
	// current again (undo, or the template reverted): instant rollback. A
	// color that had to be re-templated goes through the gates like any
	// other rollout.
	firstSight := d.o.Status.CurrentRevision != rev
	if firstSight && nc.Revision == rev && d.readyAt(next, rev) >= d.s.replicas && d.knownGood(rev) {
		d.p.Colors[next] = ColorPlan{Revision: rev, Replicas: max(d.s.replicas, nc.Replicas)}
		if o.Spec.PreviewService != "" {
			d.p.PreviewColor = next
		}
		d.p.ActiveColor = next
		st.PromotedAt = d.timestamp()
		d.event(false, v1alpha1.ReasonFastRollback, fmt.Sprintf("revision %s was still warm on %s: active Service switched at once", rev, next), true)
		d.progressing(v1alpha1.ReasonFastRollback, "switched to the warm color "+string(next))
		return
	}

	if !d.preDeployJobDone(next) {
		return
	}

	target := d.s.previewReplicas
	if d.promotionGateOpen() {
		target = d.s.replicas
	}
	d.p.Colors[next] = ColorPlan{Revision: rev, Replicas: target}
	if o.Spec.PreviewService != "" {
		d.p.PreviewColor = next
	}
	if !d.newColorReady(next, d.s.previewReplicas) {
		return
	}
	if st.PreviewReadyAt == nil {
		st.PreviewReadyAt = d.timestamp()
		d.event(false, v1alpha1.ReasonReady, fmt.Sprintf("revision %s ready on %s", rev, next), false)
	}

	if !d.analysisPassed(v1alpha1.PrePromotion, o.Spec.PrePromotionAnalysis, v1alpha1.ReasonPrePromotionFailed,
		v1alpha1.ReasonAnalysisRunning, "pre-promotion analysis running") {
		return
	}

	if !d.promotionGateOpen() {
		if d.s.autoPromote {
			at := st.PreviewReadyAt.Add(d.s.autoPromoteAfter)
			d.wake(at)
			d.progressing(v1alpha1.ReasonAwaitingPromotion, fmt.Sprintf("auto-promotion at %s", at.UTC().Format(time.RFC3339)))
			return
		}
		d.phase = v1alpha1.PhasePaused
		d.reason, d.message = v1alpha1.ReasonAwaitingPromotion, fmt.Sprintf("revision %s ready on %s; run `ragdeploy rollout promote`", rev, next)
		return
	}
	if d.s.previewReplicas < d.s.replicas {
		d.p.Colors[next] = ColorPlan{Revision: rev, Replicas: d.s.replicas}
		if !d.newColorReady(next, d.s.replicas) {
			return
		}
	}
	d.p.ActiveColor = next
	st.PromotedAt = d.timestamp()
	d.event(false, v1alpha1.ReasonPromoted, fmt.Sprintf("active Service %s now selects %s (revision %s)", o.Spec.ActiveService, next, rev), false)
	d.progressing(v1alpha1.ReasonPromoted, "switched to "+string(next))
}

// preDeployJobDone reports whether color c may run the current revision:
// there is no pre-deploy Job, it succeeded, or c already runs the revision.
// Otherwise it starts the Job or waits for it; a failed Job aborts the
// revision (or, for the first revision, with nothing to return to, marks
// the rollout Degraded).
func (d *decider) preDeployJobDone(c v1alpha1.Color) bool {
	o, rev := d.o, d.o.Revision
	if o.Spec.PreDeployJob == nil || o.Colors[c].Revision == rev {
		return true
	}
	switch o.PreDeployJob {
	case JobSucceeded:
		return true
	case JobFailed:
		msg := "pre-deploy Job failed; the new color was not scaled up"
		if d.st.StableColor == "" {
			d.phase, d.reason, d.message = v1alpha1.PhaseDegraded, v1alpha1.ReasonPreDeployJobFailed, msg
			return false
		}
		d.abort(v1alpha1.ReasonPreDeployJobFailed, msg)
	default:
		d.p.StartPreDeployJob = o.PreDeployJob == JobAbsent
		d.progressing(v1alpha1.ReasonPreDeployJobRunning, "waiting for the pre-deploy Job of revision "+rev)
	}
	return false
}

// newColorReady reports whether the new color has want ready pods of the
// current revision and, when there is a preview Service, as many ready
// endpoints behind it.
func (d *decider) newColorReady(c v1alpha1.Color, want int32) bool {
	ready := d.readyAt(c, d.o.Revision)
	if ready < want {
		d.progressing(v1alpha1.ReasonScalingUp, fmt.Sprintf("%s: %d/%d ready", c, ready, want))
		return false
	}
	// Until the older revision's pods are gone, the preview Service (and
	// analysis through it) would still reach them.
	if stale := d.o.Colors[c].Stale; stale > 0 {
		d.progressing(v1alpha1.ReasonScalingUp, fmt.Sprintf("%s: %d pods of an older revision still running", c, stale))
		return false
	}
	if d.o.Spec.PreviewService != "" && (d.o.Preview.Color != c || d.o.Preview.ReadyEndpoints < want) {
		d.progressing(v1alpha1.ReasonWaitingForEndpoints, fmt.Sprintf("preview Service %s: %d/%d ready endpoints", d.o.Spec.PreviewService, d.o.Preview.ReadyEndpoints, want))
		return false
	}
	return true
}

// promotionGateOpen: automatic promotion is due, or `promote` named this revision.
func (d *decider) promotionGateOpen() bool {
	st := d.st
	if st.PromoteRevision == d.o.Revision {
		return true
	}
	return d.s.autoPromote && st.PreviewReadyAt != nil && !d.now().Before(st.PreviewReadyAt.Add(d.s.autoPromoteAfter))
}

// postPromotion watches the new color after the switch.
func (d *decider) postPromotion(next v1alpha1.Color) {
	rev := d.o.Revision
	d.p.ActiveColor = next
	d.p.Colors[next] = ColorPlan{Revision: rev, Replicas: d.s.replicas}
	if d.o.Spec.PreviewService != "" {
		d.p.PreviewColor = next
	}
	if !d.knownGood(rev) && !d.analysisPassed(v1alpha1.PostPromotion, d.o.Spec.PostPromotionAnalysis, v1alpha1.ReasonPostPromotionFailed,
		v1alpha1.ReasonPostPromotionAnalysis, "post-promotion analysis running; the previous color stays warm") {
		return
	}
	d.promoteStable(next, rev)
	d.steady()
}

// knownGood reports whether rev was promoted before.
func (d *decider) knownGood(rev string) bool {
	for _, h := range d.st.History {
		if h.Revision == rev && h.PromotedAt != nil {
			return true
		}
	}
	return false
}

// record puts rev at the head of the history with outcome.
func (d *decider) record(rev, outcome string, promoted bool) {
	st := d.st
	entry := v1alpha1.RevisionRecord{Revision: rev, Images: imageList(&d.o.Spec), Outcome: outcome}
	for i, h := range st.History {
		if h.Revision == rev {
			entry.PromotedAt = h.PromotedAt
			st.History = append(st.History[:i], st.History[i+1:]...)
			break
		}
	}
	if promoted {
		entry.PromotedAt = d.timestamp()
	}
	st.History = append([]v1alpha1.RevisionRecord{entry}, st.History...)
	if limit := d.s.historyLimit + 1; len(st.History) > limit {
		st.History = st.History[:limit]
	}
}

func (d *decider) progressing(reason, message string) {
	d.phase = v1alpha1.PhaseProgressing
	d.reason, d.message = reason, message
}

func (d *decider) event(warning bool, reason, message string, notify bool) {
	d.p.Events = append(d.p.Events, Event{Warning: warning, Reason: reason, Message: message, Notify: notify})
}

// wake asks for another look at t at the latest.
func (d *decider) wake(t time.Time) {
	if d.wakeAt == nil || t.Before(*d.wakeAt) {
		d.wakeAt = &t
	}
}

func (d *decider) timestamp() *metav1.Time {
	t := metav1.NewTime(d.now())
	return &t
}

// finish fills the summary fields and conditions.
func (d *decider) finish() {
	st, o, p := d.st, d.o, &d.p
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
	st.Phase, st.Message = d.phase, d.message
	d.conditions()
	if d.wakeAt != nil {
		p.RequeueAfter = max(d.wakeAt.Sub(d.now()), time.Millisecond)
	}
}

func (d *decider) conditions() {
	st, gen := d.st, d.o.Generation
	set := func(t string, ok bool, reason, message string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		if reason == "" {
			reason = "None"
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: message,
			ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(d.now()),
		})
	}
	inFlight := d.phase == v1alpha1.PhaseProgressing || d.phase == v1alpha1.PhasePaused
	set(v1alpha1.ConditionProgressing, inFlight, d.reason, d.message)
	promoted := st.StableRevision != "" && st.StableRevision == d.o.Revision
	set(v1alpha1.ConditionPromoted, promoted, map[bool]string{true: v1alpha1.ReasonRolloutComplete, false: d.reason}[promoted], "")
	aborted := st.AbortedRevision != "" && st.AbortedRevision == d.o.Revision
	set(v1alpha1.ConditionAborted, aborted, map[bool]string{true: st.AbortReason, false: "NotAborted"}[aborted], map[bool]string{true: st.AbortMessage}[aborted])
	set(v1alpha1.ConditionDegraded, d.phase == v1alpha1.PhaseDegraded, d.reason, map[bool]string{true: d.message}[d.phase == v1alpha1.PhaseDegraded])
	available := d.o.Active.Exists && d.o.Active.Color != "" && d.o.Active.ReadyEndpoints >= d.s.replicas
	set(v1alpha1.ConditionAvailable, available, map[bool]string{true: v1alpha1.ReasonReady, false: v1alpha1.ReasonNotReady}[available],
		fmt.Sprintf("active Service has %d/%d ready endpoints", d.o.Active.ReadyEndpoints, d.s.replicas))
}

func imageList(spec *v1alpha1.BlueGreenDeploymentSpec) []string {
	var out []string
	for _, c := range spec.Template.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

func images(spec *v1alpha1.BlueGreenDeploymentSpec) string {
	return fmt.Sprint(imageList(spec))
}
