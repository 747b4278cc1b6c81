package report

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func micro(d time.Duration) *metav1.MicroTime { m := metav1.NewMicroTime(t0.Add(d)); return &m }

// entry is a rollout that started at start and took took.
func entry(rev string, o v1alpha1.Outcome, by v1alpha1.Decider, start, took time.Duration) v1alpha1.RevisionRecord {
	r := v1alpha1.RevisionRecord{Revision: rev, Outcome: o, DecidedBy: by, StartedAt: micro(start), FinishedAt: micro(start + took)}
	if o == v1alpha1.OutcomePromoted {
		p := metav1.NewTime(t0.Add(start + took))
		r.PromotedAt = &p
	}
	return r
}

func event(reason, name string, at time.Duration) corev1.Event {
	return corev1.Event{Reason: reason, InvolvedObject: corev1.ObjectReference{Kind: "ConfigMap", Name: name}, FirstTimestamp: metav1.NewTime(t0.Add(at))}
}

// The figures of a history with a promotion by the controller, one by a
// user, an automatic rollback, a manual undo, a superseded rollout and one
// outside the window; and drift episodes from Events.
func TestComputeCountsWhatTheHistoryHolds(t *testing.T) {
	auto := entry("r2", v1alpha1.OutcomePromoted, v1alpha1.DecidedByController, time.Hour, 4*time.Second)
	auto.ImageCreatedAt = &metav1.Time{Time: t0.Add(30 * time.Minute)}
	user := entry("r3", v1alpha1.OutcomePromoted, v1alpha1.DecidedByUser, 2*time.Hour, 10*time.Second)
	bad := entry("r4", v1alpha1.OutcomeRolledBack, v1alpha1.DecidedByController, 3*time.Hour, 6*time.Second)
	bad.RecoveredAt = micro(3*time.Hour + 6*time.Second + 8*time.Millisecond)
	undo := entry("r3", v1alpha1.OutcomePromoted, v1alpha1.DecidedByController, 4*time.Hour, 20*time.Millisecond)
	undo.RollbackOf = "r5"
	superseded := entry("r6", v1alpha1.OutcomeSuperseded, v1alpha1.DecidedByUser, 5*time.Hour, time.Second)
	old := entry("r1", v1alpha1.OutcomePromoted, v1alpha1.DecidedByController, -48*time.Hour, time.Second)
	b := v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "rag-staging", Name: "api",
		Labels: map[string]string{v1alpha1.LabelEnvironment: "staging", "app.kubernetes.io/name": "agentic-rag"}}}
	b.Status.History = []v1alpha1.RevisionRecord{superseded, undo, bad, user, auto, old}
	src := Sources{Environment: "staging", Namespace: "rag-staging", Rollouts: []v1alpha1.Rollout{b},
		Events: []corev1.Event{
			event("DriftDetected", "cm", 10*time.Minute), event("DriftDetected", "cm", 11*time.Minute), event("DriftResolved", "cm", 15*time.Minute),
			event("DriftDetected", "svc", 20*time.Minute),
		},
		Revisions: []Revision{{Status: "superseded", Deployed: t0.Add(-72 * time.Hour)}, {Status: "failed", Deployed: t0.Add(time.Hour)}, {Status: "deployed", Deployed: t0.Add(2 * time.Hour)}}}
	r := Compute(src, t0, t0.Add(24*time.Hour))
	if len(r.Apps) != 1 {
		t.Fatalf("%d apps; want 1", len(r.Apps))
	}
	a := r.Apps[0]
	if a.Environment != "staging" || a.App != "agentic-rag" || a.Strategy != "blueGreen" {
		t.Fatalf("scope %+v", a.Scope)
	}
	if a.Deployments != 4 || a.Promoted != 3 || a.RolledBack != 1 || a.Superseded != 1 || len(a.History) != 5 {
		t.Fatalf("deployments %d promoted %d rolled back %d superseded %d history %d; want 4, 3, 1, 1, 5", a.Deployments, a.Promoted, a.RolledBack, a.Superseded, len(a.History))
	}
	if a.ChangeFailures != 2 || a.ChangeFailureRate != 0.5 || a.SuccessRate != 0.75 {
		t.Fatalf("change failures %d (rate %v), success rate %v; want 2 (the rollback and the undone r5), 0.5, 0.75", a.ChangeFailures, a.ChangeFailureRate, a.SuccessRate)
	}
	if a.Rollbacks.Automatic != 1 || a.Rollbacks.Manual != 1 {
		t.Fatalf("rollbacks %+v; want 1 automatic, 1 manual", a.Rollbacks)
	}
	if a.Automated != 2 || a.AutomationCoverage != 0.5 {
		t.Fatalf("automated %d (%v); want 2 of 4: the auto promotion and the automatic rollback", a.Automated, a.AutomationCoverage)
	}
	if d := a.DeploymentTime; d.Count != 3 || d.MaxSeconds != 10 || d.P50Seconds != 4 {
		t.Fatalf("deployment time %+v; want 3 promoted, p50 4s, max 10s", d)
	}
	if l := a.LeadTime; l.Count != 1 || l.MeanSeconds != (30*time.Minute+4*time.Second).Seconds() {
		t.Fatalf("lead time %+v; want one, 30m4s", l)
	}
	if rc := a.RecoveryTime; rc.Count != 2 || rc.MaxSeconds != 0.02 || rc.P50Seconds != 0.008 {
		t.Fatalf("recovery %+v; want 8ms (automatic) and 20ms (the undo)", rc)
	}
	if d := r.Drift; d.Detections != 2 || d.Lasted.Count != 1 || d.Lasted.MaxSeconds != 300 || len(d.Open) != 1 || d.Open[0] != "ConfigMap/svc" {
		t.Fatalf("drift %+v; want 2 detections, one lasting 5m, svc still open", d)
	}
	if r.Release.Revisions != 2 || r.Release.Failed != 1 {
		t.Fatalf("release %+v; want 2 revisions in the window, 1 failed", r.Release)
	}
}

// Two objects drifted in one episode: it lasts until both are resolved,
// and counts once, as the drift watch counts it.
func TestDriftEpisodeSpansItsObjects(t *testing.T) {
	d := driftOf([]corev1.Event{
		event("DriftDetected", "a", 0), event("DriftDetected", "b", time.Minute),
		event("DriftResolved", "a", 2*time.Minute), event("DriftResolved", "b", 3*time.Minute),
	}, func(time.Time) bool { return true })
	if d.Detections != 1 || d.Lasted.Count != 1 || d.Lasted.MaxSeconds != 180 || len(d.Open) != 0 {
		t.Fatalf("drift %+v; want one episode of 3m, none open", d)
	}
}
