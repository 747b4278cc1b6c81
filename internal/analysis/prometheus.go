package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Prometheus measures by running an instant query; success is the
// SuccessCondition holding for the (first) sample value.
type Prometheus struct {
	Client *http.Client
}

var conditionRE = regexp.MustCompile(`^result\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.eE+-]+)$`)

// Condition is a parsed SuccessCondition ("result < 0.05").
type Condition struct {
	Op        string
	Threshold float64
}

// ParseCondition parses a SuccessCondition.
func ParseCondition(s string) (Condition, error) {
	m := conditionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Condition{}, fmt.Errorf("condition %q: want `result <op> <number>` with op one of < <= > >= == !=", s)
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return Condition{}, fmt.Errorf("condition %q: %w", s, err)
	}
	return Condition{Op: m[1], Threshold: v}, nil
}

// Holds reports whether v satisfies the condition. NaN never does.
func (c Condition) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch c.Op {
	case "<":
		return v < c.Threshold
	case "<=":
		return v <= c.Threshold
	case ">":
		return v > c.Threshold
	case ">=":
		return v >= c.Threshold
	case "==":
		return v == c.Threshold
	default:
		return v != c.Threshold
	}
}

// queryResponse is the part of Prometheus' /api/v1/query answer we read.
type queryResponse struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// Measure implements Provider.
func (p Prometheus) Measure(ctx context.Context, t Target, c *v1alpha1.AnalysisCheck) Result {
	spec := c.Prometheus
	cond, err := ParseCondition(spec.SuccessCondition)
	if err != nil {
		return Result{Message: err.Error()}
	}
	query, err := expand(spec.Query, t)
	if err != nil {
		return Result{Message: fmt.Sprintf("query template: %v", err)}
	}
	value, err := p.query(ctx, spec.Address, query)
	if err != nil {
		return failed(err)
	}
	ok := cond.Holds(value)
	verdict := "holds"
	if !ok {
		verdict = "does not hold"
	}
	return Result{Success: ok, Message: fmt.Sprintf("%s = %g: %s %s", query, value, spec.SuccessCondition, verdict)}
}

// query runs an instant query and returns its scalar value, or the value of
// the first sample of a vector. An empty vector is an error (no data).
func (p Prometheus) query(ctx context.Context, address, query string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimRight(address, "/") + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, unreachable{fmt.Errorf("query %s: %w", address, err)}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, err
	}
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("query %s: status %d, not a Prometheus answer", address, resp.StatusCode)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query %q: %s: %s", query, r.ErrorType, r.Error)
	}
	var sample []any
	switch r.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(r.Data.Result, &sample); err != nil {
			return 0, err
		}
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return 0, err
		}
		if len(vec) == 0 {
			return 0, fmt.Errorf("query %q returned no data", query)
		}
		sample = vec[0].Value
	default:
		return 0, fmt.Errorf("query %q: result type %s; want a scalar or an instant vector", query, r.Data.ResultType)
	}
	if len(sample) != 2 {
		return 0, fmt.Errorf("query %q: malformed sample", query)
	}
	s, ok := sample[1].(string)
	if !ok {
		return 0, fmt.Errorf("query %q: malformed sample value", query)
	}
	return strconv.ParseFloat(s, 64)
}
