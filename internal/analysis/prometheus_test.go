package analysis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
	"github.com/agentic-rag/ragdeploy/internal/analysis/promtest"
)

// errorRate serves an error-ratio gauge per service for Prometheus to scrape.
type errorRate struct{ preview, active atomic.Value }

func (e *errorRate) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE api_error_ratio gauge\napi_error_ratio{service=\"api-preview\"} %s\napi_error_ratio{service=\"api\"} %s\n",
		e.preview.Load(), e.active.Load())
}

func TestPrometheusAgainstRealServer(t *testing.T) {
	rates := &errorRate{}
	rates.preview.Store("0.01")
	rates.active.Store("0.5")
	target := httptest.NewServer(rates)
	defer target.Close()
	prom := promtest.Start(t, target.URL+"/metrics")

	p := analysis.Prometheus{}
	tgt := analysis.Target{Namespace: "shop", Name: "api", PreviewService: "api-preview", ActiveService: "api"}
	check := func(query, cond string) *v1alpha1.AnalysisCheck {
		return &v1alpha1.AnalysisCheck{Name: "errors", Prometheus: &v1alpha1.PrometheusCheck{Address: prom.URL, Query: query, SuccessCondition: cond}}
	}
	previewQuery := `max(api_error_ratio{service="{{.PreviewService}}"})`

	// Wait for the first scrape.
	deadline := time.Now().Add(20 * time.Second)
	var res analysis.Result
	for time.Now().Before(deadline) {
		if res = p.Measure(context.Background(), tgt, check(previewQuery, "result < 0.05")); !strings.Contains(res.Message, "no data") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !res.Success || !strings.Contains(res.Message, `max(api_error_ratio{service="api-preview"}) = 0.01`) {
		t.Fatalf("preview error ratio 0.01 < 0.05: got %+v", res)
	}

	tests := []struct {
		name string
		// query and cond make the check.
		query, cond string
		// wantSuccess is the expected verdict; wantMessage a substring of the message.
		wantSuccess bool
		wantMessage string
	}{
		{"active over threshold fails", `max(api_error_ratio{service="{{.ActiveService}}"})`, "result < 0.05", false, "= 0.5: result < 0.05 does not hold"},
		{"greater-or-equal holds", `max(api_error_ratio{service="{{.ActiveService}}"})`, "result >= 0.5", true, "holds"},
		{"scalar result", `scalar(max(api_error_ratio{service="api-preview"}))`, "result <= 0.01", true, "= 0.01"},
		{"no data is a failure", `api_error_ratio{service="nope"}`, "result < 1", false, "returned no data"},
		{"invalid PromQL is a failure", `max(`, "result < 1", false, "bad_data"},
		{"invalid condition is a failure", `vector(1)`, "result ~ 1", false, "want `result <op> <number>`"},
		{"unknown template variable", `x{a="{{.Nope}}"}`, "result < 1", false, "query template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := p.Measure(context.Background(), tgt, check(tt.query, tt.cond))
			if res.Success != tt.wantSuccess || !strings.Contains(res.Message, tt.wantMessage) {
				t.Fatalf("Measure = %+v; want success %t, message containing %q", res, tt.wantSuccess, tt.wantMessage)
			}
		})
	}

	// A change in the scraped value changes the verdict.
	rates.preview.Store("0.2")
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res = p.Measure(context.Background(), tgt, check(previewQuery, "result < 0.05")); !res.Success {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res.Success || !strings.Contains(res.Message, "= 0.2") {
		t.Fatalf("after the error ratio rose to 0.2: %+v; want a failure", res)
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	res := analysis.Prometheus{}.Measure(context.Background(), analysis.Target{}, &v1alpha1.AnalysisCheck{
		Name: "x", Prometheus: &v1alpha1.PrometheusCheck{Address: "http://127.0.0.1:1", Query: "vector(1)", SuccessCondition: "result > 0"},
	})
	if res.Success || res.Pending || !strings.Contains(res.Message, "connection refused") {
		t.Fatalf("unreachable Prometheus: %+v; want a failed measurement naming the error", res)
	}
}
