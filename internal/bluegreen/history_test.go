package bluegreen

import (
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// at moves the world's clock to t0+d.
func (w *testWorld) at(d time.Duration) *testWorld {
	w.o.Now = t0.Add(d)
	return w
}

// serve points the active and preview Services at c with 3 ready endpoints.
func (w *testWorld) serve(c v1alpha1.Color) {
	w.o.Active = ServiceState{Exists: true, Color: c, ReadyEndpoints: 3}
	w.o.Preview = ServiceState{Exists: true, Color: c, ReadyEndpoints: 3}
}

// head is the newest history entry, failing the test without one.
func head(t *testing.T, p Plan) v1alpha1.RevisionRecord {
	t.Helper()
	if len(p.Status.History) == 0 {
		t.Fatal("history is empty")
	}
	return p.Status.History[0]
}

// A rollout promoted automatically and one rolled back by its failed
// post-promotion check are each an entry with their start, finish, who
// decided and, for the rollback, when the stable revision served again.
func TestHistoryRecordsEachRollout(t *testing.T) {
	w := newTestWorld()
	v1 := w.o.Revision
	w.stable(blue, v1)
	w.o.Spec.Strategy.BlueGreen.AutoPromotion = &v1alpha1.AutoPromotion{Enabled: true}
	w.o.Spec.Template.Annotations = map[string]string{v1alpha1.AnnotationImageCreated: "2026-11-25T11:00:00Z"}
	v2 := w.image("api:v2")
	w.at(0).decide()
	w.color(green, v2, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
	w.at(4 * time.Second).decide()
	w.serve(green)
	p := w.at(5 * time.Second).decide()
	h := head(t, p)
	if h.Revision != v2 || h.Outcome != v1alpha1.OutcomePromoted || h.DecidedBy != v1alpha1.DecidedByController || h.RollbackOf != "" {
		t.Fatalf("head %+v; want %s Promoted by the controller", h, v2)
	}
	if !h.StartedAt.Time.Equal(t0) || !h.FinishedAt.Time.Equal(t0.Add(5*time.Second)) || h.PromotedAt == nil {
		t.Fatalf("started %v finished %v; want t0 and t0+5s", h.StartedAt, h.FinishedAt)
	}
	if h.ImageCreatedAt == nil || !h.ImageCreatedAt.Time.Equal(t0.Add(-time.Hour)) || len(h.Images) != 1 {
		t.Fatalf("image created %v images %v; want the annotation's time and the image", h.ImageCreatedAt, h.Images)
	}
	if len(p.Recorded) != 1 || p.Recorded[0].Revision != v2 {
		t.Fatalf("plan recorded %+v; want the promotion", p.Recorded)
	}

	w.o.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "errors", Count: 3}}
	v3 := w.image("api:v3")
	w.at(10 * time.Second).decide()
	w.color(blue, v3, 3, 3)
	w.o.Preview = ServiceState{Exists: true, Color: blue, ReadyEndpoints: 3}
	w.at(12 * time.Second).decide()
	w.o.Active = ServiceState{Exists: true, Color: blue, ReadyEndpoints: 3}
	w.at(13 * time.Second).decide()
	e := AnalysisEntry(&w.o.Status, v1alpha1.PostPromotion, "errors", v3)
	e.Failures, e.LastMeasuredAt = 1, mtime(t0.Add(14*time.Second))
	p = w.at(14 * time.Second).decide()
	h = head(t, p)
	if h.Revision != v3 || h.Outcome != v1alpha1.OutcomeRolledBack || h.Reason != v1alpha1.ReasonPostPromotionFailed || h.DecidedBy != v1alpha1.DecidedByController {
		t.Fatalf("head %+v; want %s RolledBack by the controller for its post-promotion check", h, v3)
	}
	if h.RecoveredAt != nil || p.Recovered != nil {
		t.Fatalf("recovered at %v while the active Service still selects the failed color", h.RecoveredAt)
	}
	if p = w.at(14*time.Second + 5*time.Millisecond).decide(); p.Recovered != nil {
		t.Fatal("recovered before the active Service was seen on the stable color")
	}
	w.serve(green)
	p = w.at(14*time.Second + 9*time.Millisecond).decide()
	h = head(t, p)
	if h.RecoveredAt == nil || h.RecoveredAt.Sub(h.FinishedAt.Time) != 9*time.Millisecond || p.Recovered == nil {
		t.Fatalf("recovered at %v, finished %v; want 9ms after the failure", h.RecoveredAt, h.FinishedAt)
	}
	if p = w.at(20 * time.Second).decide(); p.Recovered != nil || !head(t, p).RecoveredAt.Equal(h.RecoveredAt) {
		t.Fatal("the recovery was dated again")
	}
	if n := len(p.Status.History); n != 3 {
		t.Fatalf("%d entries; want v1, v2, v3", n)
	}
}

// `rollout promote` before automatic promotion is due is the user's
// decision; automatic promotion is the controller's.
func TestPromotionIsTheUsersWhenPromoteCameFirst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		auto     *v1alpha1.AutoPromotion
		promote  bool
		promoted time.Duration
		want     v1alpha1.Decider
	}{
		{"manual gate", nil, true, 3 * time.Second, v1alpha1.DecidedByUser},
		{"promoted before auto", &v1alpha1.AutoPromotion{Enabled: true, AfterSeconds: 60}, true, 3 * time.Second, v1alpha1.DecidedByUser},
		{"auto", &v1alpha1.AutoPromotion{Enabled: true, AfterSeconds: 1}, false, 3 * time.Second, v1alpha1.DecidedByController},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWorld()
			w.stable(blue, w.o.Revision)
			w.o.Spec.Strategy.BlueGreen.AutoPromotion = tc.auto
			v2 := w.image("api:v2")
			w.at(0).decide()
			w.color(green, v2, 3, 3)
			w.o.Preview = ServiceState{Exists: true, Color: green, ReadyEndpoints: 3}
			w.at(time.Second).decide()
			if tc.promote {
				w.o.Status.PromoteRevision = v2
			}
			if p := w.at(tc.promoted).decide(); p.ActiveColor != green {
				t.Fatalf("not switched: %s %s", p.Status.Phase, p.Status.Message)
			}
			w.serve(green)
			if h := head(t, w.at(tc.promoted+time.Second).decide()); h.Revision != v2 || h.DecidedBy != tc.want {
				t.Fatalf("head %+v; want %s decided by %s", h, v2, tc.want)
			}
		})
	}
}

// A template replaced while its rollout is in flight: reverted to the
// stable revision it is a rollback by hand (Aborted before the switch,
// RolledBack after); replaced by a newer one it is Superseded.
func TestReplacedInFlight(t *testing.T) {
	for _, tc := range []struct {
		name     string
		switched bool
		next     string
		want     v1alpha1.Outcome
		reason   string
	}{
		{"reverted before the switch", false, "api:v1", v1alpha1.OutcomeAborted, v1alpha1.ReasonReverted},
		{"reverted after the switch", true, "api:v1", v1alpha1.OutcomeRolledBack, v1alpha1.ReasonReverted},
		{"superseded", false, "api:v3", v1alpha1.OutcomeSuperseded, v1alpha1.ReasonSuperseded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWorld()
			w.stable(blue, w.o.Revision)
			v2 := w.image("api:v2")
			w.at(0).decide()
			w.color(green, v2, 3, 3)
			if tc.switched {
				w.o.Status.PromotedAt = mtime(t0.Add(time.Second))
				w.serve(green)
			}
			w.image(tc.next)
			p := w.at(2 * time.Second).decide()
			h := head(t, p)
			if h.Revision != v2 || h.Outcome != tc.want || h.Reason != tc.reason || h.DecidedBy != v1alpha1.DecidedByUser || !h.StartedAt.Time.Equal(t0) {
				t.Fatalf("head %+v; want %s %s (%s) by the user, started at t0", h, v2, tc.want, tc.reason)
			}
			if n := len(w.decide().Status.History); n != 2 {
				t.Fatalf("%d entries after another pass; want 2 (recorded once)", n)
			}
		})
	}
}

// The history keeps every rollout of the newest revisionHistoryLimit+1
// revisions, and no more than maxHistory entries.
func TestHistoryKeepsTheNewestRevisions(t *testing.T) {
	w := newTestWorld()
	w.o.Spec.RevisionHistoryLimit = new(int32(1))
	for _, rev := range []string{"a", "b", "a", "c"} {
		w.o.Status.History = append([]v1alpha1.RevisionRecord{{Revision: rev, Outcome: v1alpha1.OutcomePromoted}}, w.o.Status.History...)
	}
	d := &decider{observed: w.o, settings: settingsOf(&w.o.Spec)}
	d.plan.Status = *w.o.Status.DeepCopy()
	d.status = &d.plan.Status
	d.record(v1alpha1.RevisionRecord{Revision: "d", Outcome: v1alpha1.OutcomeAborted})
	var got []string
	for _, h := range d.status.History {
		got = append(got, h.Revision)
	}
	if want := []string{"d", "c"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("history %v; want %v (limit 1: two revisions)", got, want)
	}
	d.settings.historyLimit = 1000
	for range 2 * maxHistory {
		d.record(v1alpha1.RevisionRecord{Revision: "e"})
	}
	if n := len(d.status.History); n != maxHistory {
		t.Fatalf("%d entries; want at most %d", n, maxHistory)
	}
}
