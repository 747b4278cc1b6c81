package bluegreen

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
)

// TestConsecutiveErrors: errors in a row up to the limit are retried, the
// next one counts as a failure, a measurement taken resets the run, and a
// failed answer always counts.
func TestConsecutiveErrors(t *testing.T) {
	errRes := analysis.Result{Error: true, Message: "connect: no route to host"}
	for _, tt := range []struct {
		name  string
		limit *int32
		seq   []analysis.Result
		// wantCounted is how many of seq were counted (not retried).
		wantCounted int
	}{
		{"default limit retries four", nil, []analysis.Result{errRes, errRes, errRes, errRes}, 0},
		{"the fifth error counts", nil, []analysis.Result{errRes, errRes, errRes, errRes, errRes}, 1},
		{"a success resets the run", nil, []analysis.Result{errRes, errRes, errRes, errRes, {Success: true}, errRes, errRes, errRes, errRes}, 1},
		{"limit 0 counts every error", ptr.To[int32](0), []analysis.Result{errRes, errRes}, 2},
		{"a failed answer counts at once", nil, []analysis.Result{{Message: "status 503"}}, 1},
	} {
		c := &v1alpha1.AnalysisCheck{Name: "smoke", ConsecutiveErrorLimit: tt.limit}
		s := &v1alpha1.AnalysisStatus{}
		counted := 0
		for _, r := range tt.seq {
			if !CountError(c, s, r) {
				counted++
			}
		}
		if counted != tt.wantCounted {
			t.Errorf("%s: %d counted; want %d", tt.name, counted, tt.wantCounted)
		}
	}
}
