package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// pausedAt: the rollout has seen its spec and waits for promotion at
// canary step i.
func pausedAt(i int32) func(*v1alpha1.Rollout) bool {
	return func(b *v1alpha1.Rollout) bool {
		return phase(v1alpha1.PhasePaused)(b) && b.Status.Canary != nil && b.Status.Canary.Step == i
	}
}

// weightRequests is how many requests on new connections weighed counts:
// at 25% the canary's share has a standard deviation of 3 points.
const weightRequests = 200

// weightTolerance is how far, in points, the canary's share of those
// requests may be from the weight the status reports (4 standard
// deviations at 25%, 3.4 at 50%).
const weightTolerance = 12

// weighed checks the traffic of a canary (or of a rolling update's new
// pods) at the weight its status shows: once new connections reach every
// canary pod, no request of either prober has failed since the last
// check, and of the next weightRequests requests on
// new connections none fails, only stable and canary answer, and canary's
// share is within weightTolerance points of the weight the status reports
// as achieved. It returns the line for the test's report.
func (w *trafficWorld) weighed(t *testing.T, step, stable, canary string) string {
	t.Helper()
	// The status counts the ready endpoints the API server lists; each
	// node's kube-proxy follows within its sync period. The count starts
	// once every canary pod the status counts has answered a new
	// connection, so kube-proxy has programmed them all.
	cs := w.weight(t, step)
	since := time.Now()
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		pods := map[string]bool{}
		for _, r := range w.fresh.Records() {
			if r.Version == canary && !r.At.Before(since) {
				pods[r.Pod] = true
			}
		}
		return len(pods) >= int(cs.CanaryPods) && cs.CanaryPods > 0, nil
	}); err != nil {
		t.Fatalf("%s: new connections never reached all %d pods of the canary %s", step, cs.CanaryPods, canary)
	}
	f, k := w.fresh.Take(), w.kept.Take()
	if f.Failed > 0 || k.Failed > 0 {
		t.Errorf("%s: %d and %d requests failed (new connections: %s; kept-alive: %s)", step, f.Failed, k.Failed, f.LastError, k.LastError)
	}
	until := w.fresh.Count() + weightRequests
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return w.fresh.Count() >= until, nil
	}); err != nil {
		t.Fatalf("%s: the prober stalled", step)
	}
	f, k = w.fresh.Take(), w.kept.Take()
	// The weight must have held while the requests were counted.
	if after := w.weight(t, step); after.Step != cs.Step || after.CanaryPods != cs.CanaryPods || after.TotalPods != cs.TotalPods {
		t.Fatalf("%s: the rollout moved from step %d (%d of %d pods) to step %d (%d of %d) while the requests were counted; give the step more time",
			step, cs.Step+1, cs.CanaryPods, cs.TotalPods, after.Step+1, after.CanaryPods, after.TotalPods)
	}
	share := 100 * f.Version(canary).Answers / max(f.Requests, 1)
	line := fmt.Sprintf("%s: status weight %d%% (%d of %d pods); %s answered %d%% of %d new connections | kept-alive %s",
		step, cs.Weight, cs.CanaryPods, cs.TotalPods, canary, share, f.Requests, k)
	t.Log(line)
	if f.Failed > 0 || k.Failed > 0 {
		t.Errorf("%s: %d and %d requests failed (new connections: %s; kept-alive: %s)", step, f.Failed, k.Failed, f.LastError, k.LastError)
	}
	if f.Version(stable).Answers+f.Version(canary).Answers != f.Requests {
		t.Errorf("%s: new connections answered by %s; want %s and %s only", step, f, stable, canary)
	}
	if d := share - int(cs.Weight); d < -weightTolerance || d > weightTolerance {
		t.Errorf("%s: the canary answered %d%% of new connections; the status says %d%%", step, share, cs.Weight)
	}
	return line
}

// weight reads the canary or rolling status of the rollout.
func (w *trafficWorld) weight(t *testing.T, step string) v1alpha1.StepStatus {
	t.Helper()
	var b v1alpha1.Rollout
	if err := w.c.Get(t.Context(), w.key, &b); err != nil {
		t.Fatal(err)
	}
	cs := bluegreen.StepsProgress(&b)
	if cs == nil {
		t.Fatalf("%s: no canary or rolling status (phase %s: %s)", step, b.Status.Phase, b.Status.Message)
	}
	return *cs
}

// TestZeroDowntimeCanary runs canary rollouts on the real node, the
// controller as the chart's two pods (its step checks reach the preview
// Service, which selects the canary, by cluster DNS), the api with the
// chart's kind of preStop sleep, readiness on /ready and a step check of
// /health. Under 2 x 100 requests/s no request fails while: a canary takes
// 25%, then 50% of new connections (measured against the weight the
// status reports), through a pause released by `rollout promote`, its
// step check passes and it becomes stable; an HPA raises the replicas
// mid-canary (the canary pods follow, the stable ones grow) and the
// canary is aborted (out of the Service and scaled to zero at once); a
// version that regresses under production traffic fails its step check
// and is rolled back by the controller.
func TestZeroDowntimeCanary(t *testing.T) {
	// The step check runs for 8 s: the 50% weight is measured while it runs
	// (2 s of requests).
	stepCheck := v1alpha1.AnalysisCheck{Name: "canary-health", IntervalSeconds: 1, Count: 9,
		HTTP: &v1alpha1.HTTPCheck{URL: "http://{{.PreviewService}}.{{.Namespace}}.svc.cluster.local:8000/health"}}
	w := newTrafficWorld(t, worldOptions{scaleDownDelay: 3, inCluster: true, readinessPath: "/ready", preStopSeconds: 2,
		canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
			{SetWeight: new(int32(25))},
			{Pause: &v1alpha1.CanaryPause{}},
			{SetWeight: new(int32(50))},
			{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{stepCheck}}},
		}}})
	ctx := t.Context()
	var report []string
	step := func(line string) { report = append(report, line) }

	// 1.1.0: 25% (1 canary pod beside 3), paused; promoted past the pause,
	// 50% (3 beside 3), the step check passes, 1.1.0 becomes stable.
	w.setImage(t, "1.1.0")
	w.wait(t, "1.1.0 paused at 25%", pausedAt(1))
	step(w.weighed(t, "1.1.0 at 25%, paused", "1.0.0", "1.1.0"))
	w.rollout(t, "promote")
	w.wait(t, "1.1.0 at 50%, step check running", func(b *v1alpha1.Rollout) bool {
		return b.Status.Canary != nil && b.Status.Canary.Step == 3 && b.Status.Canary.Weight == 50
	})
	step(w.weighed(t, "1.1.0 at 50%, step check running", "1.0.0", "1.1.0"))
	w.wait(t, "1.1.0 serving, 1.0.0 scaled down", w.serving("1.1.0", true))
	step(w.check(t, "1.1.0 promoted", "1.1.0", "", true))

	// 1.2.0 paused at 25%; an HPA raises the replicas to 5: 2 canary pods
	// beside 5 stable ones (29%); then abort.
	w.setImage(t, "1.2.0")
	w.wait(t, "1.2.0 paused at 25%", pausedAt(1))
	w.pinReplicas(t, 5)
	w.wait(t, "scaled to 5 by the HPA: 2 canary pods beside 5", func(b *v1alpha1.Rollout) bool {
		cs := b.Status.Canary
		return pausedAt(1)(b) && *b.Spec.Replicas == 5 && cs.CanaryPods == 2 && cs.TotalPods == 7
	})
	step(w.weighed(t, "1.2.0 at 25% of 5 replicas, paused", "1.1.0", "1.2.0"))
	w.rollout(t, "abort")
	w.wait(t, "1.2.0 aborted, the canary scaled to 0", rolledBack)
	step(w.check(t, "1.2.0 aborted at 29%", "1.1.0", "", true))

	// 1.3.0-regress passes its readiness and, at 25%, nothing checks it;
	// past the pause, at 50%, its step check of /health fails (it has
	// answered production traffic) and the controller rolls it back.
	w.setImage(t, "1.3.0-regress")
	w.wait(t, "1.3.0-regress paused at 25%", pausedAt(1))
	w.rollout(t, "promote")
	w.wait(t, "1.3.0-regress rolled back by its step check", rolledBack)
	step(w.check(t, "1.3.0-regress rolled back by its step check", "1.1.0", "", true))
	var b v1alpha1.Rollout
	if err := w.c.Get(ctx, w.key, &b); err != nil {
		t.Fatal(err)
	}
	if b.Status.AbortReason != v1alpha1.ReasonStepAnalysisFailed || len(b.Status.History) == 0 || b.Status.History[0].Outcome != v1alpha1.OutcomeRolledBack {
		t.Errorf("1.3.0-regress: abort reason %q, last history entry %+v; want %s and RolledBack", b.Status.AbortReason, b.Status.History[:min(1, len(b.Status.History))], v1alpha1.ReasonStepAnalysisFailed)
	}
	t.Logf("traffic per step:\n%s", strings.Join(report, "\n"))
}
