package bluegreen

import (
	"fmt"
	"strings"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
)

// Evaluate is the result of a check given its measurements so far: Failed
// once failures exceed the limit, Successful after Count measurements within
// it, Running before that.
func Evaluate(c *v1alpha1.AnalysisCheck, s *v1alpha1.AnalysisStatus) v1alpha1.AnalysisResult {
	count := max(c.Count, 1)
	switch {
	case s.Failures > c.FailureLimit:
		return v1alpha1.AnalysisFailed
	case s.Successes+s.Failures >= count:
		return v1alpha1.AnalysisSuccessful
	default:
		return v1alpha1.AnalysisRunning
	}
}

// DefaultConsecutiveErrorLimit is the consecutive error limit of a check
// that sets none.
const DefaultConsecutiveErrorLimit = 4

// CountError records a measurement error in the check's status and reports
// whether it was retried rather than counted: up to the check's consecutive
// error limit in a row are; the next counts as a failure. A measurement
// that was taken resets the run.
func CountError(c *v1alpha1.AnalysisCheck, s *v1alpha1.AnalysisStatus, res analysis.Result) (retried bool) {
	if !res.Error {
		s.ConsecutiveErrors = 0
		return false
	}
	limit := int32(DefaultConsecutiveErrorLimit)
	if c.ConsecutiveErrorLimit != nil {
		limit = *c.ConsecutiveErrorLimit
	}
	if s.ConsecutiveErrors < limit {
		s.ConsecutiveErrors++
		s.Message = fmt.Sprintf("measurement error %d of %d tolerated in a row, retrying: %s", s.ConsecutiveErrors, limit, res.Message)
		return true
	}
	s.ConsecutiveErrors = 0
	s.Message = fmt.Sprintf("%d measurement errors in a row: %s", limit+1, res.Message)
	return false
}

// AnalysisEntry returns the status entry of a check for a stage and
// revision, or nil.
func AnalysisEntry(st *v1alpha1.RolloutStatus, stage v1alpha1.AnalysisStage, name, rev string) *v1alpha1.AnalysisStatus {
	for i := range st.Analysis {
		a := &st.Analysis[i]
		if a.Stage == stage && a.Name == name && a.Revision == rev {
			return a
		}
	}
	return nil
}

// analysis evaluates a stage's checks for the current revision, creating
// their status entries, and asks for the measurements that are due.
func (d *decider) analysis(stage v1alpha1.AnalysisStage, checks []v1alpha1.AnalysisCheck) v1alpha1.AnalysisResult {
	overall := v1alpha1.AnalysisSuccessful
	for i := range checks {
		c := &checks[i]
		entry := AnalysisEntry(d.status, stage, c.Name, d.observed.Revision)
		if entry == nil {
			d.status.Analysis = append(d.status.Analysis, v1alpha1.AnalysisStatus{Name: c.Name, Stage: stage, Revision: d.observed.Revision})
			entry = &d.status.Analysis[len(d.status.Analysis)-1]
		}
		previous := entry.Result
		entry.Result = Evaluate(c, entry)
		switch entry.Result {
		case v1alpha1.AnalysisFailed:
			if previous != v1alpha1.AnalysisFailed {
				d.emit(Event{Warning: true, Reason: v1alpha1.ReasonAnalysisFailed, Message: fmt.Sprintf("%s check %s failed: %s", stage, c.Name, entry.Message)})
			}
			return v1alpha1.AnalysisFailed
		case v1alpha1.AnalysisSuccessful:
			if previous != v1alpha1.AnalysisSuccessful {
				d.emit(Event{Reason: v1alpha1.ReasonAnalysisSucceeded, Message: fmt.Sprintf("%s check %s passed (%d/%d)", stage, c.Name, entry.Successes, max(c.Count, 1))})
			}
		case v1alpha1.AnalysisRunning:
			overall = v1alpha1.AnalysisRunning
			due := d.now()
			if entry.LastMeasuredAt != nil {
				due = entry.LastMeasuredAt.Add(time.Duration(max(c.IntervalSeconds, 1)) * time.Second)
			}
			if d.now().Before(due) {
				d.wake(due)
			} else {
				d.plan.Measure = append(d.plan.Measure, Measurement{Stage: stage, Check: c})
			}
		}
	}
	return overall
}

// analysisPassed runs a stage's checks: on failure it aborts the revision
// with failReason, while they run it reports progress; it returns true once
// every check has succeeded.
func (d *decider) analysisPassed(stage v1alpha1.AnalysisStage, checks []v1alpha1.AnalysisCheck, failReason, runningReason, runningMessage string) bool {
	switch d.analysis(stage, checks) {
	case v1alpha1.AnalysisFailed:
		d.abort(failReason, d.failedChecks(stage))
		return false
	case v1alpha1.AnalysisRunning:
		d.progressing(runningReason, runningMessage)
		return false
	}
	return true
}

// failedChecks describes the failed checks of a stage.
func (d *decider) failedChecks(stage v1alpha1.AnalysisStage) string {
	var parts []string
	for _, a := range d.status.Analysis {
		if a.Stage == stage && a.Revision == d.observed.Revision && a.Result == v1alpha1.AnalysisFailed {
			parts = append(parts, fmt.Sprintf("check %s failed %d time(s): %s", a.Name, a.Failures, a.Message))
		}
	}
	return strings.Join(parts, "; ")
}
