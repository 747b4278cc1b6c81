// Package analysis measures the health of a rollout: one Provider per kind of
// check (http, prometheus, job), each taking one measurement at a time. The
// blue-green strategy decides when to measure and what the counts mean.
package analysis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"text/template"

	"k8s.io/apimachinery/pkg/types"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Target is what a check measures: the rollout and its Services.
type Target struct {
	Namespace      string
	Name           string
	Revision       string
	ActiveService  string
	PreviewService string
	// Stage the check runs in.
	Stage v1alpha1.AnalysisStage
	// OwnerUID is the Rollout's UID (Jobs are owned by it).
	OwnerUID types.UID
	// Attempt numbers the measurement of the check (0 for the first).
	Attempt int32
}

// Result is one measurement. Pending is true when the measurement has not
// finished yet (a Job still running); it counts neither way. Error is true
// when no measurement could be taken (no answer: connection refused, no
// route, timeout), as happens for a moment after a Service's endpoints
// change and before every node's kube-proxy has caught up: the decision
// retries those, up to the check's consecutive error limit.
type Result struct {
	Pending bool
	Success bool
	Error   bool
	Message string
}

// unreachable marks an error of reaching the measured system, as opposed
// to an answer that fails the check.
type unreachable struct{ err error }

func (u unreachable) Error() string { return u.err.Error() }
func (u unreachable) Unwrap() error { return u.err }

// failed is the Result of an error: a measurement error when the system
// could not be reached, a failed measurement otherwise.
func failed(err error) Result {
	var u unreachable
	return Result{Error: errors.As(err, &u), Message: err.Error()}
}

// Provider takes one measurement of a check.
type Provider interface {
	Measure(ctx context.Context, t Target, c *v1alpha1.AnalysisCheck) Result
}

// Measurer dispatches a check to the provider of its kind.
type Measurer struct {
	HTTP       Provider
	Prometheus Provider
	Job        Provider
}

// Measure runs the check with the provider its kind names. A check of no
// known kind, or whose provider is not configured, fails with a message.
func (m Measurer) Measure(ctx context.Context, t Target, c *v1alpha1.AnalysisCheck) Result {
	var p Provider
	switch {
	case c.HTTP != nil:
		p = m.HTTP
	case c.Prometheus != nil:
		p = m.Prometheus
	case c.Job != nil:
		p = m.Job
	}
	if p == nil {
		return Result{Message: fmt.Sprintf("check %s: no provider for its kind", c.Name)}
	}
	return p.Measure(ctx, t, c)
}

// expand fills {{.PreviewService}}, {{.ActiveService}}, {{.Namespace}},
// {{.Name}} and {{.Revision}} in s.
func expand(s string, t Target) (string, error) {
	tmpl, err := template.New("check").Option("missingkey=error").Parse(s)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, t); err != nil {
		return "", err
	}
	return out.String(), nil
}
