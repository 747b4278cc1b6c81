package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// HTTP measures by requesting a URL: success is the expected status code
// and, when JSONField is set, that field of the JSON body equal to JSONValue.
type HTTP struct {
	Client *http.Client
}

// Measure implements Provider.
func (h HTTP) Measure(ctx context.Context, t Target, c *v1alpha1.AnalysisCheck) Result {
	spec := c.HTTP
	url, err := expand(spec.URL, t)
	if err != nil {
		return Result{Message: fmt.Sprintf("url template: %v", err)}
	}
	timeout := time.Duration(max(spec.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{Message: err.Error()}
	}
	// A new connection for every measurement: a kept-alive one to a Service
	// address stays with the pod it reached first (kube-proxy's DNAT is per
	// connection), so after a switch it would go on measuring the old
	// color.
	req.Close = true
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return failed(unreachable{err})
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{Message: fmt.Sprintf("read body: %v", err)}
	}
	want := spec.ExpectedStatus
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode != int(want) {
		return Result{Message: fmt.Sprintf("GET %s: status %d, want %d%s", url, resp.StatusCode, want, excerpt(body))}
	}
	if spec.JSONField == "" {
		return Result{Success: true, Message: fmt.Sprintf("GET %s: status %d", url, resp.StatusCode)}
	}
	got, err := jsonField(body, spec.JSONField)
	if err != nil {
		return Result{Message: fmt.Sprintf("GET %s: %v", url, err)}
	}
	if got != spec.JSONValue {
		return Result{Message: fmt.Sprintf("GET %s: %s is %q, want %q", url, spec.JSONField, got, spec.JSONValue)}
	}
	return Result{Success: true, Message: fmt.Sprintf("GET %s: %s is %q", url, spec.JSONField, got)}
}

// excerpt is the start of a response body for a failure message (what the
// server said was wrong), on one line; "" for an empty body.
func excerpt(body []byte) string {
	const most = 300
	text := strings.Join(strings.Fields(string(body)), " ")
	if text == "" {
		return ""
	}
	if len(text) > most {
		text = text[:most] + "..."
	}
	return ": " + text
}

// jsonField walks a dot path ("a.b.c") into a JSON document and returns the
// value as a string (JSON text for objects and arrays).
func jsonField(body []byte, path string) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("body is not JSON: %w", err)
	}
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("field %s: %q is not inside an object", path, key)
		}
		if v, ok = m[key]; !ok {
			return "", fmt.Errorf("field %s: %q missing", path, key)
		}
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "null", nil
	default:
		out, err := json.Marshal(x)
		return string(out), err
	}
}
