package bluegreen

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	blue  = v1alpha1.Blue
	green = v1alpha1.Green
)

func mtime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// testWorld builds an Observed for a Rollout with 3 replicas and
// active/preview Services, running image v1 as stable on blue.
type testWorld struct{ o Observed }

func newTestWorld() *testWorld {
	replicas := int32(3)
	spec := v1alpha1.RolloutSpec{
		Replicas:       &replicas,
		Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
		ActiveService:  "api",
		PreviewService: "api-preview",
		Strategy:       v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "api:v1"}}},
		},
	}
	w := &testWorld{o: Observed{Now: t0, Generation: 1, Spec: spec, Colors: map[v1alpha1.Color]ColorState{},
		Active: ServiceState{Exists: true}, Preview: ServiceState{Exists: true}}}
	w.o.Revision = TemplateRevision(&w.o.Spec.Template)
	return w
}

// image changes the template and returns the new revision.
func (w *testWorld) image(img string) string {
	w.o.Spec.Template.Spec.Containers[0].Image = img
	w.o.Revision = TemplateRevision(&w.o.Spec.Template)
	w.o.Generation++
	return w.o.Revision
}

// stable makes rev stable on c, serving with every replica ready.
func (w *testWorld) stable(c v1alpha1.Color, rev string) *testWorld {
	st := &w.o.Status
	st.StableColor, st.StableRevision, st.CurrentRevision = c, rev, rev
	st.History = append(st.History, v1alpha1.RevisionRecord{Revision: rev, PromotedAt: mtime(t0.Add(-time.Hour)), Outcome: "Promoted"})
	w.color(c, rev, 3, 3)
	w.o.Active = ServiceState{Exists: true, Color: c, ReadyEndpoints: 3}
	w.o.Preview = ServiceState{Exists: true, Color: c, ReadyEndpoints: 3}
	return w
}

func (w *testWorld) color(c v1alpha1.Color, rev string, replicas, ready int32) *testWorld {
	w.o.Colors[c] = ColorState{Exists: true, Revision: rev, Replicas: replicas, Ready: ready}
	return w
}

// decide runs Decide and feeds the written status back, as the API server would.
func (w *testWorld) decide() Plan {
	p := Decide(w.o)
	w.o.Status = p.Status
	return p
}

func hasEvent(p Plan, reason string) bool {
	for _, e := range p.Events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func TestInitialDeploy(t *testing.T) {
	w := newTestWorld()
	rev := w.o.Revision
	p := w.decide()
	if got := p.Colors[blue]; got.Revision != rev || got.Replicas != 3 {
		t.Fatalf("blue plan %+v; want revision %s with 3 replicas", got, rev)
	}
	if p.ActiveColor != "" || p.Status.Phase != v1alpha1.PhaseProgressing {
		t.Fatalf("active %q phase %s before any pod is ready; want no switch, Progressing", p.ActiveColor, p.Status.Phase)
	}
	w.color(blue, rev, 3, 2)
	if p = w.decide(); p.ActiveColor != "" {
		t.Fatalf("switched the active Service with 2/3 ready")
	}
	w.color(blue, rev, 3, 3)
	if p = w.decide(); p.ActiveColor != blue {
		t.Fatalf("active %q with 3/3 ready; want blue", p.ActiveColor)
	}
	w.o.Active = ServiceState{Exists: true, Color: blue, ReadyEndpoints: 3}
	p = w.decide()
	if p.Status.StableColor != blue || p.Status.StableRevision != rev || p.Status.Phase != v1alpha1.PhaseHealthy {
		t.Fatalf("status %+v; want blue stable at %s, Healthy", p.Status, rev)
	}
}

// A Service that is missing or belongs to another rollout is never written:
// the rollout changes nothing, is Degraded with a reason naming the Service,
// and records one Warning per distinct problem.
func TestUnusableServicesStopTheRollout(t *testing.T) {
	tests := []struct {
		name string
		// break mutates a stable world.
		brk    func(w *testWorld)
		reason string
		// want is part of the message.
		want string
	}{
		{"active missing", func(w *testWorld) { w.o.Active = ServiceState{} }, v1alpha1.ReasonServiceMissing, "active Service api not found"},
		{"preview missing", func(w *testWorld) { w.o.Preview = ServiceState{} }, v1alpha1.ReasonServiceMissing, "preview Service api-preview not found"},
		{"active claimed", func(w *testWorld) { w.o.Active.ClaimedBy = "other" }, v1alpha1.ReasonServiceConflict, "active Service api belongs to Rollout other"},
		{"preview claimed", func(w *testWorld) { w.o.Preview.ClaimedBy = "other" }, v1alpha1.ReasonServiceConflict, "preview Service api-preview belongs to Rollout other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mid := range []bool{false, true} {
				w := newTestWorld()
				w.stable(blue, w.o.Revision)
				if mid {
					w.image("api:v2")
				}
				tt.brk(w)
				p := w.decide()
				if p.ActiveColor != "" || p.PreviewColor != "" || len(p.Colors) != 0 || p.StartPreDeployJob {
					t.Fatalf("mid-rollout %v: plan writes %+v", mid, p)
				}
				c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionDegraded)
				if p.Status.Phase != v1alpha1.PhaseDegraded || c == nil || c.Reason != tt.reason || !strings.Contains(c.Message, tt.want) {
					t.Fatalf("mid-rollout %v: phase %s condition %+v; want Degraded %s with %q", mid, p.Status.Phase, c, tt.reason, tt.want)
				}
				if !hasEvent(p, tt.reason) {
					t.Fatalf("no %s event", tt.reason)
				}
				if p = w.decide(); hasEvent(p, tt.reason) {
					t.Fatalf("the same problem recorded twice")
				}
			}
		})
	}
}

func TestInitialDeployRunsPreDeployJobFirst(t *testing.T) {
	w := newTestWorld()
	w.o.Spec.PreDeployJob = &v1alpha1.PreDeployJob{}
	p := w.decide()
	if !p.StartPreDeployJob || len(p.Colors) != 0 {
		t.Fatalf("start job %t, colors %v; want the Job first and no Deployment yet", p.StartPreDeployJob, p.Colors)
	}
	w.o.PreDeployJob = JobFailed
	if p = w.decide(); p.Status.Phase != v1alpha1.PhaseDegraded || len(p.Colors) != 0 {
		t.Fatalf("phase %s colors %v after a failed Job; want Degraded, nothing scaled", p.Status.Phase, p.Colors)
	}
	w.o.PreDeployJob = JobSucceeded
	if p = w.decide(); p.Colors[blue].Replicas != 3 {
		t.Fatalf("blue %+v after the Job succeeded; want 3 replicas", p.Colors[blue])
	}
}

func TestRolloutWithAutoPromotion(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(blue, v1)
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	v2 := w.image("api:v2")

	p := w.decide()
	if got := p.Colors[green]; got.Revision != v2 || got.Replicas != 3 {
		t.Fatalf("green plan %+v; want v2 with 3 replicas", got)
	}
	if p.PreviewColor != green || p.ActiveColor != blue {
		t.Fatalf("preview %q active %q; want preview on green, active kept on blue", p.PreviewColor, p.ActiveColor)
	}
	if !hasEvent(p, v1alpha1.ReasonNewRevision) || p.Status.RolloutStartedAt == nil {
		t.Fatal("a new revision is neither announced nor timed")
	}

	// Pods ready but the preview Service does not list them yet: no switch.
	w.color(green, v2, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 1}
	if p = w.decide(); p.ActiveColor != blue {
		t.Fatalf("switched before the preview Service had ready endpoints")
	}
	w.o.Preview.ReadyEndpoints = 3
	p = w.decide()
	if p.ActiveColor != green || p.Status.PromotedAt == nil {
		t.Fatalf("active %q; want the switch to green once ready with endpoints", p.ActiveColor)
	}
	w.o.Active = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	p = w.decide()
	if p.Status.StableColor != green || p.Status.StableRevision != v2 || p.Status.Phase != v1alpha1.PhaseHealthy {
		t.Fatalf("status %s/%s %s; want green stable at v2, Healthy", p.Status.StableColor, p.Status.StableRevision, p.Status.Phase)
	}
	// The old color stays warm until the scale-down delay has passed.
	bp := p.Colors[blue]
	if bp.Replicas != 3 || bp.ScaleDownAt == nil || !bp.ScaleDownAt.Equal(t0.Add(DefaultScaleDownDelay)) {
		t.Fatalf("blue plan %+v; want 3 replicas kept, scale-down at +30s", bp)
	}
	w.o.Colors[blue] = ColorState{Exists: true, Revision: v1, Replicas: 3, Ready: 3, ScaleDownAt: bp.ScaleDownAt}
	w.o.Now = t0.Add(29 * time.Second)
	if p = w.decide(); p.RequeueAfter != time.Second {
		t.Fatalf("requeue %v at +29s; want a look in 1s", p.RequeueAfter)
	}
	if bp, touched := p.Colors[blue]; touched {
		t.Fatalf("blue changed to %+v at +29s; want it left warm", bp)
	}
	w.o.Now = t0.Add(30 * time.Second)
	if p = w.decide(); p.Colors[blue].Replicas != 0 {
		t.Fatalf("blue not scaled down once the delay passed: %+v", p.Colors[blue])
	}
}

// TestScaleDownWaitsForTheActiveEndpointSlices: a color due to scale down
// whose pods the active Service's EndpointSlices still list (kube-proxy may
// still route to them) stays up until they are gone; with a delay of 0 it
// goes without waiting.
func TestScaleDownWaitsForTheActiveEndpointSlices(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(green, v1)
	due := t0.Add(-time.Second)
	w.o.Colors[blue] = ColorState{Exists: true, Revision: "old", Replicas: 3, Ready: 3, ScaleDownAt: &due}
	w.o.Active.Listed = map[v1alpha1.Color]int32{blue: 1, green: 3}
	p := w.decide()
	if bp, touched := p.Colors[blue]; touched {
		t.Fatalf("blue changed to %+v while the active Service still lists one of its pods", bp)
	}
	if p.RequeueAfter != endpointsRecheck {
		t.Fatalf("requeue %v; want a backstop look in %v", p.RequeueAfter, endpointsRecheck)
	}
	w.o.Active.Listed = map[v1alpha1.Color]int32{green: 3}
	if p = w.decide(); p.Colors[blue].Replicas != 0 || !hasEvent(p, v1alpha1.ReasonScaledDown) {
		t.Fatalf("blue plan %+v once no longer listed; want it scaled to zero", p.Colors[blue])
	}
	w.o.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(0))
	w.o.Active.Listed = map[v1alpha1.Color]int32{blue: 1, green: 3}
	if p = w.decide(); p.Colors[blue].Replicas != 0 {
		t.Fatalf("blue plan %+v with a delay of 0; want it scaled to zero without waiting", p.Colors[blue])
	}
}

func TestManualPromotion(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	v2 := w.image("api:v2")
	w.decide()
	w.color(green, v2, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	p := w.decide()
	if p.Status.Phase != v1alpha1.PhasePaused || p.ActiveColor != blue {
		t.Fatalf("phase %s active %q; want Paused on blue until promote", p.Status.Phase, p.ActiveColor)
	}
	w.o.Status.PromoteRevision = "some-older-revision"
	if p = w.decide(); p.ActiveColor != blue {
		t.Fatal("a promote of another revision switched traffic")
	}
	w.o.Status.PromoteRevision = v2
	if p = w.decide(); p.ActiveColor != green {
		t.Fatalf("promote of %s did not switch: active %q", v2, p.ActiveColor)
	}
}

func TestPreviewReplicaCountScalesUpBeforeSwitch(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	w.o.Spec.Strategy.BlueGreen.PreviewReplicaCount = new(int32(1))
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	v2 := w.image("api:v2")
	if p := w.decide(); p.Colors[green].Replicas != 1 {
		t.Fatalf("preview scale %d; want 1", p.Colors[green].Replicas)
	}
	w.color(green, v2, 1, 1)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 1}
	p := w.decide()
	if p.Colors[green].Replicas != 3 || p.ActiveColor != blue {
		t.Fatalf("green %d replicas, active %q; want scale to 3 before switching", p.Colors[green].Replicas, p.ActiveColor)
	}
	w.color(green, v2, 3, 3)
	w.o.Preview.ReadyEndpoints = 3
	if p = w.decide(); p.ActiveColor != green {
		t.Fatalf("active %q with green fully ready; want green", p.ActiveColor)
	}
}

func TestProgressDeadlineAborts(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(blue, v1)
	w.o.Spec.ProgressDeadlineSeconds = new(int32(60))
	v2 := w.image("api:v2")
	w.decide()
	w.color(green, v2, 3, 1)
	w.o.Now = t0.Add(59 * time.Second)
	if p := w.decide(); p.Status.AbortedRevision != "" || p.RequeueAfter != time.Second {
		t.Fatalf("aborted %q, requeue %v before the deadline", p.Status.AbortedRevision, p.RequeueAfter)
	}
	w.o.Now = t0.Add(60 * time.Second)
	p := w.decide()
	if p.Status.AbortedRevision != v2 || p.Status.AbortReason != v1alpha1.ReasonProgressDeadline || p.Status.Phase != v1alpha1.PhaseAborted {
		t.Fatalf("status %+v; want v2 aborted for the progress deadline", p.Status)
	}
	if p.ActiveColor != blue || p.PreviewColor != blue {
		t.Fatalf("active %q preview %q after abort; want both on blue", p.ActiveColor, p.PreviewColor)
	}
	if !p.Colors[green].ScaleDownAt.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("failed color plan %+v; want scale-down scheduled after the delay", p.Colors[green])
	}
	// Aborted stays aborted: no new attempt until retry or a new revision.
	w.o.Now = t0.Add(70 * time.Second)
	if p = w.decide(); p.Colors[green].Revision != v2 || p.Status.Phase != v1alpha1.PhaseAborted {
		t.Fatalf("after abort: green %+v phase %s", p.Colors[green], p.Status.Phase)
	}
}

func TestPrePromotionAnalysis(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	w.o.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "smoke", Count: 2, FailureLimit: 0, IntervalSeconds: 5}}
	v2 := w.image("api:v2")
	w.decide()
	w.color(green, v2, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	p := w.decide()
	if len(p.Measure) != 1 || p.Measure[0].Stage != v1alpha1.PrePromotion || p.ActiveColor != blue {
		t.Fatalf("measure %v active %q; want one pre-promotion measurement, no switch", p.Measure, p.ActiveColor)
	}
	// One success recorded: the next is due 5s later.
	e := AnalysisEntry(&w.o.Status, v1alpha1.PrePromotion, "smoke", v2)
	e.Successes, e.LastMeasuredAt = 1, mtime(t0)
	w.o.Now = t0.Add(2 * time.Second)
	if p = w.decide(); len(p.Measure) != 0 || p.RequeueAfter != 3*time.Second {
		t.Fatalf("measure %v requeue %v; want none until the interval passes", p.Measure, p.RequeueAfter)
	}
	e = AnalysisEntry(&w.o.Status, v1alpha1.PrePromotion, "smoke", v2)
	e.Failures, e.Message = 1, "status 500"
	p = w.decide()
	if p.Status.AbortReason != v1alpha1.ReasonPrePromotionFailed || p.ActiveColor != blue {
		t.Fatalf("abort reason %q active %q; want pre-promotion failure, traffic on blue", p.Status.AbortReason, p.ActiveColor)
	}
}

// TestNoAnalysisWhileOlderPodsOfTheColorRun: the preview Service selects a
// color, so while pods of that color's previous (say, aborted) revision
// still run, analysis through it would measure them; nothing is measured and
// nothing switches until they are gone.
func TestNoAnalysisWhileOlderPodsOfTheColorRun(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	w.o.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "smoke", Count: 1, IntervalSeconds: 5}}
	v2 := w.image("api:v2")
	w.decide()
	w.o.Colors[green] = ColorState{Exists: true, Revision: v2, Replicas: 3, Ready: 3, Stale: 2}
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	if p := w.decide(); len(p.Measure) != 0 || p.ActiveColor != blue || p.Status.Message != "green: 2 pods of an older revision still running" {
		t.Fatalf("measure %v active %q message %q; want no measurement while stale pods run", p.Measure, p.ActiveColor, p.Status.Message)
	}
	w.o.Colors[green] = ColorState{Exists: true, Revision: v2, Replicas: 3, Ready: 3}
	if p := w.decide(); len(p.Measure) != 1 {
		t.Fatalf("measure %v; want the pre-promotion check once the old pods are gone", p.Measure)
	}
}

func TestPostPromotionFailureRollsBack(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(blue, v1)
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	w.o.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "errors", Count: 3}}
	v2 := w.image("api:v2")
	w.decide()
	w.color(green, v2, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	if p := w.decide(); p.ActiveColor != green {
		t.Fatal("not promoted")
	}
	w.o.Active = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	p := w.decide()
	if p.Status.StableRevision != v1 || p.Colors[blue].Replicas != 3 || p.Colors[blue].ScaleDownAt != nil {
		t.Fatalf("stable %s, blue %+v during post-promotion; want v1 kept warm on blue", p.Status.StableRevision, p.Colors[blue])
	}
	e := AnalysisEntry(&w.o.Status, v1alpha1.PostPromotion, "errors", v2)
	e.Failures, e.LastMeasuredAt, e.Message = 1, mtime(t0), "error rate 0.2"
	p = w.decide()
	if p.ActiveColor != blue || p.Status.AbortReason != v1alpha1.ReasonPostPromotionFailed {
		t.Fatalf("active %q reason %q; want automatic rollback to blue", p.ActiveColor, p.Status.AbortReason)
	}
	if !hasEvent(p, v1alpha1.ReasonPostPromotionFailed) || p.Status.History[0].Outcome != "RolledBack" {
		t.Fatalf("rollback not recorded: events %+v history %+v", p.Events, p.Status.History)
	}
}

func TestLiveColorNeverShrinksDuringRollout(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	w.image("api:v2")
	w.o.Spec.Replicas = new(int32(1))
	p := w.decide()
	if p.Colors[blue].Replicas != 3 {
		t.Fatalf("live color planned at %d replicas mid-rollout; want 3 kept", p.Colors[blue].Replicas)
	}
	if p.Colors[green].Replicas != 1 {
		t.Fatalf("new color planned at %d; want the new desired 1", p.Colors[green].Replicas)
	}
	w.o.Spec.Replicas = new(int32(5))
	if p = w.decide(); p.Colors[blue].Replicas != 5 || p.Colors[green].Replicas != 5 {
		t.Fatalf("scale-up mid-rollout: blue %d green %d; want both 5", p.Colors[blue].Replicas, p.Colors[green].Replicas)
	}
}

func TestPreDeployJob(t *testing.T) {
	w := newTestWorld()
	w.stable(blue, w.o.Revision)
	w.o.Spec.PreDeployJob = &v1alpha1.PreDeployJob{}
	v2 := w.image("api:v2")
	p := w.decide()
	if !p.StartPreDeployJob {
		t.Fatal("pre-deploy Job not started")
	}
	if _, touched := p.Colors[green]; touched {
		t.Fatal("idle color scaled before the pre-deploy Job finished")
	}
	w.o.PreDeployJob = JobRunning
	if p = w.decide(); p.StartPreDeployJob {
		t.Fatal("pre-deploy Job started twice")
	}
	w.o.PreDeployJob = JobFailed
	p = w.decide()
	if p.Status.AbortReason != v1alpha1.ReasonPreDeployJobFailed || p.ActiveColor != blue {
		t.Fatalf("abort %q active %q; want PreDeployJobFailed on blue", p.Status.AbortReason, p.ActiveColor)
	}
	if gp, touched := p.Colors[green]; touched && gp.Revision == v2 {
		t.Fatalf("failed pre-deploy Job still scaled up %s", v2)
	}
}

func TestUndoToWarmColorIsInstant(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	v2 := w.image("api:v2")
	w.stable(green, v2)
	w.o.Status.History = append(w.o.Status.History, v1alpha1.RevisionRecord{Revision: v1, PromotedAt: mtime(t0.Add(-2 * time.Hour)), Outcome: "Promoted"})
	w.color(blue, v1, 3, 3) // still warm
	w.image("api:v1")       // undo
	p := w.decide()
	if p.ActiveColor != blue || !hasEvent(p, v1alpha1.ReasonFastRollback) {
		t.Fatalf("active %q events %+v; want an instant switch back to blue", p.ActiveColor, p.Events)
	}
	w.o.Active = ServiceState{Exists: true, Color: blue, ReadyEndpoints: 3}
	w.o.Now = t0.Add(3 * time.Millisecond)
	if p = w.decide(); p.Status.StableColor != blue || p.Status.StableRevision != v1 {
		t.Fatalf("stable %s/%s after undo; want blue/v1", p.Status.StableColor, p.Status.StableRevision)
	}
	// The history says what the undo rolled back, by hand, in 3ms.
	if h := p.Status.History[0]; h.Revision != v1 || h.RollbackOf != v2 || h.FinishedAt.Sub(h.StartedAt.Time) != 3*time.Millisecond {
		t.Fatalf("head %+v; want %s promoted as the rollback of %s, 3ms after it started", h, v1, v2)
	}
}

func TestUndoToColdColorGoesThroughTheGates(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	v3 := w.image("api:v3")
	v2 := w.image("api:v2")
	w.stable(green, v2)
	w.o.Status.History = append(w.o.Status.History, v1alpha1.RevisionRecord{Revision: v1, PromotedAt: mtime(t0.Add(-2 * time.Hour)), Outcome: "Promoted"})
	w.color(blue, v3, 3, 3) // blue no longer runs v1
	w.image("api:v1")
	if p := w.decide(); p.ActiveColor != green || p.Colors[blue].Revision != v1 {
		t.Fatalf("active %q, blue %+v; want blue re-templated to v1, traffic kept on green", p.ActiveColor, p.Colors[blue])
	}
	w.color(blue, v1, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: blue, ReadyEndpoints: 3}
	p := w.decide()
	if p.ActiveColor != green || p.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("active %q phase %s; want the manual promotion gate, not an instant switch", p.ActiveColor, p.Status.Phase)
	}
}

func TestSupersededDuringPostPromotionReturnsToStableFirst(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(blue, v1)
	w.o.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "errors", Count: 10}}
	v2 := w.image("api:v2")
	w.o.Status.CurrentRevision, w.o.Status.PromotedAt = v2, mtime(t0)
	w.color(green, v2, 3, 3)
	w.o.Active = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	w.image("api:v3")
	p := w.decide()
	if p.ActiveColor != blue {
		t.Fatalf("active %q; want traffic back on the stable blue", p.ActiveColor)
	}
	if _, touched := p.Colors[green]; touched {
		t.Fatal("green re-templated while it still served traffic")
	}
}

// userAborted is v1 stable on blue and v2 aborted by a user (the status
// patch `rollout abort` writes), green running it.
func userAborted() (w *testWorld, v1, v2 string) {
	w = newTestWorld()
	v1 = w.o.Revision
	w.stable(blue, v1)
	v2 = w.image("api:v2")
	w.o.Status.CurrentRevision, w.o.Status.AbortedRevision, w.o.Status.AbortReason = v2, v2, v1alpha1.ReasonUserAbort
	return w, v1, v2
}

func TestAbortKeepsActiveWhenStableNotReady(t *testing.T) {
	w, v1, v2 := userAborted()
	w.color(blue, v1, 3, 1)
	w.color(green, v2, 3, 3)
	w.o.Active = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	p := w.decide()
	if p.ActiveColor != "" || p.Status.Phase != v1alpha1.PhaseDegraded {
		t.Fatalf("active %q phase %s; want no switch to a 1/3-ready color, Degraded", p.ActiveColor, p.Status.Phase)
	}
}

// An abort by a user (the status patch `rollout abort` writes) is recorded
// in the history as the controller's own aborts are, once.
func TestUserAbortIsRecordedInTheHistory(t *testing.T) {
	w, v1, v2 := userAborted()
	w.color(blue, v1, 3, 3)
	w.color(green, v2, 3, 3)
	p := w.decide()
	if len(p.Status.History) == 0 || p.Status.History[0].Revision != v2 || p.Status.History[0].Outcome != v1alpha1.OutcomeAborted {
		t.Fatalf("history %+v; want %s Aborted at its head", p.Status.History, v2)
	}
	n := len(p.Status.History)
	w.o.Status = p.Status
	if p = w.decide(); len(p.Status.History) != n {
		t.Fatalf("the next pass recorded the abort again: %+v", p.Status.History)
	}
}

// randomWorld is a random observed state: revisions, colors, replica
// counts, Services and status fields drawn from small sets, so that every
// combination of them comes up.
func randomWorld(rng *rand.Rand) *testWorld {
	colors := []v1alpha1.Color{"", blue, green}
	revs := []string{"r1", "r2", "r3"}
	w := newTestWorld()
	w.o.Revision = revs[rng.IntN(3)]
	w.o.Spec.Replicas = new(int32(rng.IntN(4))) //nolint:gosec // G115: small test sizes, far below 2^31
	if rng.IntN(2) == 0 {
		w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	}
	st := &w.o.Status
	st.StableColor = colors[rng.IntN(3)]
	st.StableRevision = revs[rng.IntN(3)]
	st.CurrentRevision = revs[rng.IntN(3)]
	if rng.IntN(3) == 0 {
		st.AbortedRevision = revs[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		st.PromotedAt = mtime(t0)
	}
	if rng.IntN(2) == 0 {
		st.PreviewReadyAt = mtime(t0.Add(-time.Minute))
	}
	if rng.IntN(2) == 0 {
		st.History = []v1alpha1.RevisionRecord{{Revision: revs[rng.IntN(3)], PromotedAt: mtime(t0)}}
	}
	for _, c := range []v1alpha1.Color{blue, green} {
		r := int32(rng.IntN(4))                                     //nolint:gosec // G115: small test sizes, far below 2^31
		w.color(c, revs[rng.IntN(3)], r, int32(rng.IntN(int(r)+1))) //nolint:gosec // G115: small test sizes, far below 2^31
	}
	w.o.Active = ServiceState{Exists: true, Color: colors[rng.IntN(3)], ReadyEndpoints: int32(rng.IntN(4))}  //nolint:gosec // G115: small test sizes, far below 2^31
	w.o.Preview = ServiceState{Exists: true, Color: colors[rng.IntN(3)], ReadyEndpoints: int32(rng.IntN(4))} //nolint:gosec // G115: small test sizes, far below 2^31
	return w
}

// The central invariant, over random observed states: Decide never points
// the active Service at a color (other than the one it already selects)
// with fewer ready pods of its revision than desired.
func TestNeverSwitchesToUnreadyColor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible pseudo-random cases for a property test, not security
	for i := range 20000 {
		w := randomWorld(rng)
		p := Decide(w.o)
		if p.ActiveColor == "" || p.ActiveColor == w.o.Active.Color {
			continue
		}
		cs := w.o.Colors[p.ActiveColor]
		if cs.Ready < *w.o.Spec.Replicas {
			t.Fatalf("case %d: switched active %q -> %q with %d/%d ready\nobserved: %+v", i, w.o.Active.Color, p.ActiveColor, cs.Ready, *w.o.Spec.Replicas, w.o)
		}
	}
}

// Over random observed states, the status Decide writes carries the kstatus
// conditions of its state, for the generation it observed, so that kstatus
// (what Flux and Helm judge custom resources by) reads it as StateOf does:
// InProgress while the controller moves it, Failed when it cannot progress,
// Current when done or paused for promotion; Ready only when done, and
// absent while paused.
func TestKstatusConditionsFollowTheState(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // G404: reproducible pseudo-random cases for a property test, not security
	seen := map[State]int{}
	for i := range 20000 {
		w := randomWorld(rng)
		p := Decide(w.o)
		state := stateOf(w.o.Generation, w.o.Revision, &p.Status)
		seen[state]++
		want := map[string]bool{
			v1alpha1.ConditionReady:       state == StateDone,
			v1alpha1.ConditionReconciling: state == StateInProgress,
			v1alpha1.ConditionStalled:     state == StateFailed,
		}
		for typ, on := range want {
			c := meta.FindStatusCondition(p.Status.Conditions, typ)
			if typ == v1alpha1.ConditionReady && state == StateWaitingForPromotion {
				if c != nil {
					t.Fatalf("case %d: paused for promotion with %+v; want no Ready condition", i, c)
				}
				continue
			}
			if c == nil || (c.Status == metav1.ConditionTrue) != on || c.ObservedGeneration != w.o.Generation || c.Reason == "" {
				t.Fatalf("case %d: state %s, condition %s = %+v; want True=%t at generation %d", i, state, typ, c, on, w.o.Generation)
			}
		}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&v1alpha1.Rollout{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout"},
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", Generation: w.o.Generation},
			Status:     p.Status,
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: obj})
		wantStatus := map[State]status.Status{StateInProgress: status.InProgressStatus, StateFailed: status.FailedStatus,
			StateDone: status.CurrentStatus, StateWaitingForPromotion: status.CurrentStatus}[state]
		if err != nil || res.Status != wantStatus {
			t.Fatalf("case %d: state %s: kstatus %v (%v); want %s", i, state, res, err, wantStatus)
		}
	}
	for _, s := range []State{StateInProgress, StateFailed, StateDone, StateWaitingForPromotion} {
		if seen[s] == 0 {
			t.Errorf("no random case reached state %s: the property is untested there", s)
		}
	}
}

// A promotion switches the active Service before its status is written,
// marking the Service with the rollout it promotes. When that status write
// is lost, the next pass finds the Service on the new color with the mark
// of this rollout and records the promotion instead of taking it for a
// superseded rollout; a Service switched without this rollout's mark goes
// back to the stable color as before.
func TestPromotionRecoveredFromTheServiceMark(t *testing.T) {
	for _, tt := range []struct {
		name     string
		marked   bool
		promoted bool
	}{
		{"marked by this rollout", true, true},
		{"switched without its mark", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestWorld()
			v1 := w.o.Revision
			w.stable(blue, v1)
			w.o.Active.Claimed, w.o.Preview.Claimed = true, true
			w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
			v2 := w.image("api:v2")
			w.decide()
			w.color(green, v2, 3, 3)
			w.o.Preview = ServiceState{Exists: true, Claimed: true, Color: green, ReadyEndpoints: 3}
			stored := w.o.Status
			p := Decide(w.o)
			if p.ActiveColor != green || p.Status.PromotedAt == nil {
				t.Fatalf("active %q promotedAt %v; want the promotion to green", p.ActiveColor, p.Status.PromotedAt)
			}
			// The Service write went through; the status write did not.
			w.o.Status = stored
			w.o.Active = ServiceState{Exists: true, Claimed: true, Color: green, ReadyEndpoints: 3}
			if tt.marked {
				w.o.Active.Promotion = PromotionMark(&p.Status)
			}
			p = w.decide()
			if got := p.Status.PromotedAt != nil && p.ActiveColor == green; got != tt.promoted {
				t.Fatalf("promotedAt %v, active %q; want promoted %t", p.Status.PromotedAt, p.ActiveColor, tt.promoted)
			}
			if !tt.promoted && p.ActiveColor != blue {
				t.Fatalf("active %q for an unmarked switch; want back to blue", p.ActiveColor)
			}
		})
	}
}
