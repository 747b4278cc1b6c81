package bluegreen

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// canaryWorld is a test world whose rollout is a canary with steps, v1
// stable on blue.
func canaryWorld(steps ...v1alpha1.CanaryStep) (*testWorld, string) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.o.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps, ScaleDownDelaySeconds: new(int32(30))}}
	w.stable(blue, v1)
	w.o.Active.Claimed, w.o.Preview.Claimed = true, true
	return w, v1
}

// converge applies a plan as the cluster would, every pod ready at once:
// Deployments at their planned size and revision, the Services on their
// planned colors, listing every ready pod.
func (w *testWorld) converge(p Plan) {
	for c, cp := range p.Colors {
		w.color(c, cp.Revision, cp.Replicas, cp.Replicas)
		cs := w.o.Colors[c]
		cs.ScaleDownAt = cp.ScaleDownAt
		w.o.Colors[c] = cs
	}
	serve := func(s *ServiceState, c v1alpha1.Color, both bool) {
		if c == "" {
			c = s.Color
		}
		s.Color, s.Both = c, both
		if both {
			s.Color = ""
		}
		s.ReadyByColor = map[v1alpha1.Color]int32{}
		s.ReadyEndpoints = 0
		for _, col := range []v1alpha1.Color{blue, green} {
			if col == c || both {
				s.ReadyByColor[col] = w.o.Colors[col].Ready
				s.ReadyEndpoints += w.o.Colors[col].Ready
			}
		}
	}
	serve(&w.o.Active, p.ActiveColor, p.ActiveBoth)
	serve(&w.o.Preview, p.PreviewColor, false)
	if p.RouteWeight != nil {
		w.o.Route.Weight = *p.RouteWeight
	}
}

// step decides and converges, the clock moved on by d first.
func (w *testWorld) step(d time.Duration) Plan {
	w.o.Now = w.o.Now.Add(d)
	p := w.decide()
	w.converge(p)
	return p
}

// A canary goes through its steps: each weight is carried by canary pods
// beside the stable ones (which keep every desired replica), the active
// Service selects both colors, a timed pause waits, a pause without a
// duration waits for `promote`, an analysis step checks; after the last
// step the canary scales to full size and takes all traffic, and becomes
// stable.
func TestCanarySteps(t *testing.T) {
	http := &v1alpha1.HTTPCheck{URL: "http://x"}
	w, v1 := canaryWorld(
		v1alpha1.CanaryStep{SetWeight: new(int32(25))},
		v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{DurationSeconds: new(int32(10))}},
		v1alpha1.CanaryStep{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{{Name: "smoke", Count: 1, HTTP: http}}}},
		v1alpha1.CanaryStep{SetWeight: new(int32(50))},
		v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}},
	)
	v2 := w.image("api:v2")

	p := w.step(0)
	if got := p.Colors[green]; got.Revision != v2 || got.Replicas != 1 {
		t.Fatalf("canary plan %+v; want v2 with 1 pod (25%% beside 3)", got)
	}
	if got := p.Colors[blue]; got.Revision != v1 || got.Replicas != 3 {
		t.Fatalf("stable plan %+v; want v1 with all 3 replicas", got)
	}
	if p.ActiveBoth {
		t.Fatal("the active Service selects both colors before the canary color runs the new revision")
	}
	p = w.step(time.Second)
	if !p.ActiveBoth || p.ActiveColor != blue {
		t.Fatalf("active both %t color %q once the canary runs v2; want both, blue stable", p.ActiveBoth, p.ActiveColor)
	}
	p = w.step(time.Second)
	if cs := p.Status.Canary; cs == nil || cs.Step != 1 || cs.Weight != 25 || cs.CanaryPods != 1 || cs.TotalPods != 4 || cs.TrafficAt == nil {
		t.Fatalf("canary status %+v; want step 1 (the pause), 25%% (1 of 4), traffic taken", p.Status.Canary)
	}
	if !strings.Contains(p.Status.Message, "step 2/5 at 25% (1 of 4 pods): paused until") || p.Status.Phase != v1alpha1.PhaseProgressing {
		t.Fatalf("phase %s message %q; want Progressing, the timed pause", p.Status.Phase, p.Status.Message)
	}
	if p.RequeueAfter != 10*time.Second {
		t.Fatalf("requeue after %v; want the pause's 10s", p.RequeueAfter)
	}
	p = w.step(10 * time.Second)
	if cs := p.Status.Canary; cs.Step != 2 || len(p.Measure) != 1 || p.Measure[0].Stage != "Step3" || p.Measure[0].Check.Name != "smoke" {
		t.Fatalf("step %d measure %+v; want step 3's check measured", cs.Step, p.Measure)
	}
	e := AnalysisEntry(&w.o.Status, "Step3", "smoke", v2)
	e.Successes = 1
	p = w.step(time.Second)
	if got := p.Colors[green]; got.Replicas != 3 || p.Status.Canary.Step != 3 {
		t.Fatalf("canary %+v at step %d; want 3 pods (50%%) at step 4", got, p.Status.Canary.Step)
	}
	p = w.step(time.Second)
	if p.Status.Phase != v1alpha1.PhasePaused || p.Status.Canary.Weight != 50 || !strings.Contains(p.Status.Message, "rollout promote") {
		t.Fatalf("phase %s weight %d message %q; want Paused at 50%% for promote", p.Status.Phase, p.Status.Canary.Weight, p.Status.Message)
	}
	if p = w.step(time.Hour); p.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("a pause without a duration ended by itself: %s", p.Status.Phase)
	}
	w.o.Status.Canary.PromotedStep = new(int32(4))
	p = w.step(time.Second)
	if p.ActiveColor != green || p.ActiveBoth || p.Colors[green].Replicas != 3 {
		t.Fatalf("after the last step: active %q both %t canary %+v; want the switch to green alone", p.ActiveColor, p.ActiveBoth, p.Colors[green])
	}
	p = w.step(time.Second)
	if p.Status.StableColor != green || p.Status.StableRevision != v2 || p.Status.Canary != nil {
		t.Fatalf("status %+v; want v2 stable on green", p.Status)
	}
	if h := p.Status.History[0]; h.Outcome != v1alpha1.OutcomePromoted || h.DecidedBy != v1alpha1.DecidedByUser {
		t.Fatalf("history %+v; want Promoted by the user who released the pause", h)
	}
	if sd := p.Colors[blue].ScaleDownAt; sd == nil || !sd.Equal(w.o.Now.Add(30*time.Second)) {
		t.Fatalf("old stable %+v; want kept warm for the 30s delay", p.Colors[blue])
	}
}

// A failed step check, a failed background check, the progress deadline
// and a user's abort each take the canary out of the active Service and
// scale it to zero in the same pass; the stable color keeps every replica,
// and the history says the canary had taken traffic (RolledBack).
func TestCanaryFailureTakesTheCanaryOutAtOnce(t *testing.T) {
	http := &v1alpha1.HTTPCheck{URL: "http://x"}
	steps := []v1alpha1.CanaryStep{
		{SetWeight: new(int32(25))},
		{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{{Name: "smoke", Count: 1, HTTP: http}}}},
		{Pause: &v1alpha1.CanaryPause{}},
	}
	for _, tt := range []struct {
		name, reason string
		fail         func(w *testWorld, rev string)
	}{
		{"step analysis", v1alpha1.ReasonStepAnalysisFailed, func(w *testWorld, rev string) {
			AnalysisEntry(&w.o.Status, "Step2", "smoke", rev).Failures = 1
		}},
		{"background analysis", v1alpha1.ReasonBackgroundFailed, func(w *testWorld, rev string) {
			AnalysisEntry(&w.o.Status, v1alpha1.Background, "errors", rev).Failures = 1
		}},
		{"user abort", v1alpha1.ReasonUserAbort, func(w *testWorld, rev string) {
			w.o.Status.AbortedRevision, w.o.Status.AbortReason = rev, v1alpha1.ReasonUserAbort
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, v1 := canaryWorld(steps...)
			w.o.Spec.Strategy.Canary.Analysis = []v1alpha1.AnalysisCheck{{Name: "errors", Count: 100, FailureLimit: 0, IntervalSeconds: 1, HTTP: http}}
			v2 := w.image("api:v2")
			for range 3 {
				w.step(time.Second)
			}
			if cs := w.o.Status.Canary; cs == nil || cs.Step != 1 || !w.o.Active.Both {
				t.Fatalf("canary %+v, active both %t; want it serving at step 2", cs, w.o.Active.Both)
			}
			tt.fail(w, v2)
			p := w.step(time.Second)
			if got := p.Colors[green]; got.Replicas != 0 || got.ScaleDownAt != nil {
				t.Fatalf("canary plan %+v; want scaled to zero now", got)
			}
			if p.ActiveColor != blue || p.ActiveBoth {
				t.Fatalf("active %q both %t; want blue alone", p.ActiveColor, p.ActiveBoth)
			}
			if got := p.Colors[blue]; got.Revision != v1 || got.Replicas != 3 {
				t.Fatalf("stable plan %+v; want all 3 replicas of v1", got)
			}
			if p.Status.AbortReason != tt.reason || p.Status.Phase != v1alpha1.PhaseAborted || p.Status.Canary != nil {
				t.Fatalf("status %s %s canary %+v; want Aborted, %s, no canary left", p.Status.Phase, p.Status.AbortReason, p.Status.Canary, tt.reason)
			}
			if h := p.Status.History[0]; h.Revision != v2 || h.Outcome != v1alpha1.OutcomeRolledBack || h.Reason != tt.reason {
				t.Fatalf("history %+v; want v2 RolledBack for %s", h, tt.reason)
			}
		})
	}
}

// A canary whose pods do not become ready within the progress deadline,
// counted from its step's start, is aborted; it never took traffic.
func TestCanaryProgressDeadline(t *testing.T) {
	w, _ := canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(50))})
	w.o.Spec.ProgressDeadlineSeconds = new(int32(60))
	v2 := w.image("api:v2-broken")
	p := w.decide()
	w.color(green, v2, p.Colors[green].Replicas, 0)
	if p = w.decide(); p.Status.Phase != v1alpha1.PhaseProgressing || p.RequeueAfter != 60*time.Second {
		t.Fatalf("phase %s requeue %v; want Progressing, a look at the deadline", p.Status.Phase, p.RequeueAfter)
	}
	w.o.Now = w.o.Now.Add(time.Minute)
	p = w.decide()
	if p.Status.AbortReason != v1alpha1.ReasonProgressDeadline || p.Colors[green].Replicas != 0 {
		t.Fatalf("abort %q canary %+v; want the deadline, canary at zero", p.Status.AbortReason, p.Colors[green])
	}
	if h := p.Status.History[0]; h.Outcome != v1alpha1.OutcomeAborted {
		t.Fatalf("history %+v; want Aborted (it took no traffic)", h)
	}
}

// A pre-deploy Job that runs past the progress deadline aborts the canary
// before any canary pod starts.
func TestCanaryPreDeployJobDeadline(t *testing.T) {
	w, _ := canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(50))})
	w.o.Spec.ProgressDeadlineSeconds = new(int32(60))
	w.o.Spec.PreDeployJob = &v1alpha1.PreDeployJob{}
	w.image("api:v2")
	if p := w.decide(); !p.StartPreDeployJob || p.RequeueAfter != time.Minute {
		t.Fatalf("start job %t requeue %v; want the Job started and a look at the deadline", p.StartPreDeployJob, p.RequeueAfter)
	}
	w.o.PreDeployJob = JobRunning
	w.o.Now = w.o.Now.Add(time.Minute)
	p := w.decide()
	if p.Status.AbortReason != v1alpha1.ReasonProgressDeadline || p.Colors[green].Replicas != 0 || p.ActiveColor != blue {
		t.Fatalf("abort %q canary %+v active %q; want the deadline, no canary pod, blue active", p.Status.AbortReason, p.Colors[green], p.ActiveColor)
	}
}

// `rollout promote --full` (promoteRevision) skips the remaining steps.
func TestCanaryFullPromotion(t *testing.T) {
	w, _ := canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(25))}, v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}}, v1alpha1.CanaryStep{SetWeight: new(int32(50))})
	v2 := w.image("api:v2")
	for range 3 {
		w.step(time.Second)
	}
	if w.o.Status.Phase != v1alpha1.PhasePaused {
		t.Fatalf("phase %s; want Paused at step 2", w.o.Status.Phase)
	}
	w.o.Status.PromoteRevision = v2
	p := w.step(time.Second)
	if p.Colors[green].Replicas != 3 || p.ActiveColor != blue || !p.ActiveBoth {
		t.Fatalf("canary %+v active %q both %t; want full size first, both still selected", p.Colors[green], p.ActiveColor, p.ActiveBoth)
	}
	if p = w.step(time.Second); p.ActiveColor != green || p.ActiveBoth {
		t.Fatalf("active %q both %t; want green alone", p.ActiveColor, p.ActiveBoth)
	}
}

// An HPA raising the replica count mid-canary raises the canary pods with
// it, and lowering it never shrinks the stable color.
func TestCanaryFollowsTheReplicaCount(t *testing.T) {
	w, v1 := canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(25))}, v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}})
	w.image("api:v2")
	for range 3 {
		w.step(time.Second)
	}
	w.o.Spec.Replicas = new(int32(9))
	p := w.step(time.Second)
	if p.Colors[green].Replicas != 3 || p.Colors[blue].Replicas != 9 || p.Colors[blue].Revision != v1 {
		t.Fatalf("canary %+v stable %+v at 9 replicas; want 3 canary pods beside 9 stable", p.Colors[green], p.Colors[blue])
	}
	w.o.Spec.Replicas = new(int32(3))
	if p = w.step(time.Second); p.Colors[blue].Replicas != 9 || p.Colors[green].Replicas != 1 {
		t.Fatalf("canary %+v stable %+v back at 3; want the stable color kept at 9, 1 canary pod", p.Colors[green], p.Colors[blue])
	}
}

// Over random observed canary states: the plan never shrinks the stable
// color below the desired count while a rollout is in flight, has the
// active Service select both colors only when the canary color runs the
// current revision and no older pod, and never switches it to one color
// with fewer ready pods than desired.
func TestCanaryNeverServesFewerThanDesired(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // G404: reproducible pseudo-random cases for a property test, not security
	both := 0
	for i := range 20000 {
		w := randomWorld(rng)
		w.o.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
			{SetWeight: new(int32(25))}, {Pause: &v1alpha1.CanaryPause{}}, {SetWeight: new(int32(50))},
		}}}
		if rng.IntN(2) == 0 {
			w.o.Status.Canary = &v1alpha1.StepStatus{Step: int32(rng.IntN(4)), StepStartedAt: microtime(t0)} //nolint:gosec // G115: small test sizes
		}
		for _, c := range []v1alpha1.Color{blue, green} {
			cs := w.o.Colors[c]
			cs.Stale = int32(rng.IntN(2)) //nolint:gosec // G115: small test sizes
			w.o.Colors[c] = cs
		}
		w.o.Active.Both = w.o.Active.Color == "" && rng.IntN(2) == 0
		p := Decide(w.o)
		st, want := w.o.Status, *w.o.Spec.Replicas
		inFlight := st.StableColor != "" && w.o.Revision != st.StableRevision && st.AbortedRevision != w.o.Revision
		if sp, ok := p.Colors[st.StableColor]; inFlight && p.Status.StableColor == st.StableColor && ok && sp.Revision == st.StableRevision && sp.Replicas < want {
			t.Fatalf("case %d: stable %s planned at %d of %d desired mid-rollout", i, st.StableColor, sp.Replicas, want)
		}
		if p.ActiveBoth {
			both++
			canary := p.ActiveColor.Other()
			if cs := w.o.Colors[canary]; cs.Revision != w.o.Revision || cs.Stale > 0 {
				t.Fatalf("case %d: both colors selected while %s runs %+v (current revision %s)", i, canary, cs, w.o.Revision)
			}
		} else if p.ActiveColor != "" && p.ActiveColor != w.o.Active.Color {
			if cs := w.o.Colors[p.ActiveColor]; cs.Ready < want {
				t.Fatalf("case %d: switched active %q -> %q with %d/%d ready", i, w.o.Active.Color, p.ActiveColor, cs.Ready, want)
			}
		}
	}
	if both == 0 {
		t.Error("no random case selected both colors: the property is untested there")
	}
}

func microtime(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }

// Metrics and reports group a canary under its own strategy.
func TestScopeNamesTheStrategy(t *testing.T) {
	w, _ := canaryWorld(v1alpha1.CanaryStep{SetWeight: new(int32(50))})
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}, Spec: w.o.Spec}
	if got := ScopeOf(ro); got != (Scope{Environment: "shop", App: "api", Strategy: StrategyCanary}) {
		t.Errorf("canary scope %+v", got)
	}
	ro.Spec = newTestWorld().o.Spec
	if got := ScopeOf(ro).Strategy; got != StrategyBlueGreen {
		t.Errorf("blue-green strategy %q", got)
	}
	ro.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{}}
	if got := ScopeOf(ro).Strategy; got != StrategyRolling {
		t.Errorf("rolling strategy %q", got)
	}
}
