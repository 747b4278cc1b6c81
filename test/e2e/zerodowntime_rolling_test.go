package e2e

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// TestZeroDowntimeRolling runs rolling updates on the real node, one pod
// at a time (3 replicas, maxSurge 1, maxUnavailable 0), the controller as
// the chart's two pods (its batch checks reach the preview Service, which
// selects the new pods, by cluster DNS), a pause for promote between
// batches, the api with the chart's kind of preStop sleep, readiness on
// /ready and a batch check of /health. Under 2 x 100 requests/s no request
// fails while: 1.1.0 takes one pod in three, then two (measured against
// the weight the status reports), and becomes stable; 1.2.0-regress fails
// its batch check once it has answered production traffic and the
// controller rolls it back (the stable pods back to 3, then the traffic
// on them alone, then the new pod gone); 1.3.0 is aborted after its first
// batch.
func TestZeroDowntimeRolling(t *testing.T) {
	// The batch check spans 6 s: it starts when the new pod is Ready, and
	// a regression only shows once kube-proxy has routed production
	// traffic to it (the EndpointSlice, then each node's sync; seconds on
	// a loaded machine). With 2 measurements 1 s apart the check of
	// 1.2.0-regress passed before its pod had answered any.
	check := v1alpha1.AnalysisCheck{Name: "batch-health", IntervalSeconds: 2, Count: 4,
		HTTP: &v1alpha1.HTTPCheck{URL: "http://{{.PreviewService}}.{{.Namespace}}.svc.cluster.local:8000/health"}}
	w := newTrafficWorld(t, worldOptions{inCluster: true, readinessPath: "/ready", preStopSeconds: 2,
		rolling: &v1alpha1.RollingStrategy{MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0)),
			BatchAnalysis: []v1alpha1.AnalysisCheck{check}, Pause: &v1alpha1.CanaryPause{}}})
	var report []string
	step := func(line string) { report = append(report, line) }
	// The steps: batch 1, its check, a pause, batch 2, its check, a pause,
	// batch 3, its check.
	pausedAfter := func(batch int32) func(*v1alpha1.Rollout) bool {
		return func(b *v1alpha1.Rollout) bool {
			return phase(v1alpha1.PhasePaused)(b) && b.Status.Rolling != nil && b.Status.Rolling.Step == 3*batch-1
		}
	}

	w.setImage(t, "1.1.0")
	w.wait(t, "1.1.0 paused after batch 1", pausedAfter(1))
	step(w.weighed(t, "1.1.0 after batch 1 of 3", "1.0.0", "1.1.0"))
	w.rollout(t, "promote")
	w.wait(t, "1.1.0 paused after batch 2", pausedAfter(2))
	step(w.weighed(t, "1.1.0 after batch 2 of 3", "1.0.0", "1.1.0"))
	w.rollout(t, "promote")
	w.wait(t, "1.1.0 serving, 1.0.0 gone", w.serving("1.1.0", true))
	step(w.check(t, "1.1.0 rolled out", "1.1.0", "", true))

	w.setImage(t, "1.2.0-regress")
	w.wait(t, "1.2.0-regress rolled back by its batch check", rolledBack)
	step(w.check(t, "1.2.0-regress rolled back by its batch check", "1.1.0", "", true))
	var b v1alpha1.Rollout
	if err := w.c.Get(t.Context(), w.key, &b); err != nil {
		t.Fatal(err)
	}
	if b.Status.AbortReason != v1alpha1.ReasonBatchAnalysisFailed || b.Status.History[0].Outcome != v1alpha1.OutcomeRolledBack {
		t.Errorf("1.2.0-regress: abort reason %q, last history entry %+v; want %s and RolledBack", b.Status.AbortReason, b.Status.History[0], v1alpha1.ReasonBatchAnalysisFailed)
	}

	w.setImage(t, "1.3.0")
	w.wait(t, "1.3.0 paused after batch 1", pausedAfter(1))
	step(w.weighed(t, "1.3.0 after batch 1 of 3", "1.1.0", "1.3.0"))
	w.rollout(t, "abort")
	w.wait(t, "1.3.0 aborted, its pod gone", rolledBack)
	step(w.check(t, "1.3.0 aborted after batch 1", "1.1.0", "", true))
	t.Logf("traffic per step:\n%s", strings.Join(report, "\n"))
}
