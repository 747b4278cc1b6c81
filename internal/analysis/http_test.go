package analysis_test

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
)

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health/api-preview":
			_, _ = w.Write([]byte(`{"status":"ok","deps":{"postgres":"up","redis":"down"},"n":3}`))
		case "/plain":
			_, _ = w.Write([]byte("OK"))
		default:
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tgt := analysis.Target{PreviewService: "api-preview", ActiveService: "api", Namespace: "shop"}
	tests := []struct {
		name string
		// spec is the check; URL paths are relative to the test server.
		spec v1alpha1.HTTPCheck
		// wantSuccess and wantMessage describe the expected measurement.
		wantSuccess bool
		wantMessage string
	}{
		{"status ok", v1alpha1.HTTPCheck{URL: "/plain"}, true, "status 200"},
		{"templated url and json field", v1alpha1.HTTPCheck{URL: "/health/{{.PreviewService}}", JSONField: "status", JSONValue: "ok"}, true, `status is "ok"`},
		{"nested json field mismatch", v1alpha1.HTTPCheck{URL: "/health/{{.PreviewService}}", JSONField: "deps.redis", JSONValue: "up"}, false, `deps.redis is "down", want "up"`},
		{"number field compared as text", v1alpha1.HTTPCheck{URL: "/health/api-preview", JSONField: "n", JSONValue: "3"}, true, `n is "3"`},
		{"missing field", v1alpha1.HTTPCheck{URL: "/health/api-preview", JSONField: "deps.chroma", JSONValue: "up"}, false, `"chroma" missing`},
		{"body not json", v1alpha1.HTTPCheck{URL: "/plain", JSONField: "status", JSONValue: "ok"}, false, "not JSON"},
		{"unexpected status, with what the server said", v1alpha1.HTTPCheck{URL: "/down"}, false, "status 503, want 200: nope"},
		{"expected non-200 status", v1alpha1.HTTPCheck{URL: "/down", ExpectedStatus: 503}, true, "status 503"},
		{"bad template", v1alpha1.HTTPCheck{URL: "/{{.Secret}}"}, false, "url template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.URL = srv.URL + spec.URL
			res := analysis.HTTP{}.Measure(context.Background(), tgt, &v1alpha1.AnalysisCheck{Name: "c", HTTP: &spec})
			if res.Success != tt.wantSuccess || !strings.Contains(res.Message, tt.wantMessage) {
				t.Fatalf("Measure = %+v; want success %t with %q", res, tt.wantSuccess, tt.wantMessage)
			}
		})
	}
}

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in      string
		value   float64
		holds   bool
		wantErr bool
	}{
		{"result < 0.05", 0.01, true, false},
		{"result<0.05", 0.05, false, false},
		{"result <= 0.05", 0.05, true, false},
		{"result > -1", 0, true, false},
		{"result >= 1e3", 999, false, false},
		{"result == 1", 1, true, false},
		{"result != 1", 1, false, false},
		{"result < 1", 0, true, false},
		{"value < 1", 0, false, true},
		{"result ~ 1", 0, false, true},
		{"result < abc", 0, false, true},
	}
	for _, tt := range tests {
		c, err := analysis.ParseCondition(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseCondition(%q) error %v; want error %t", tt.in, err, tt.wantErr)
		}
		if err == nil && c.Holds(tt.value) != tt.holds {
			t.Errorf("%q with %g: holds %t; want %t", tt.in, tt.value, !tt.holds, tt.holds)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"result < 0.05", "result>=1e9", "result != -3", "result", "<", ""} {
		f.Add(s, 0.5)
	}
	f.Fuzz(func(t *testing.T, s string, v float64) {
		c, err := analysis.ParseCondition(s)
		if err != nil {
			return
		}
		// Exactly one of a comparison and its negation holds for a number.
		neg := map[string]string{"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[c.Op]
		if !math.IsNaN(v) && c.Holds(v) == (analysis.Condition{Op: neg, Threshold: c.Threshold}).Holds(v) {
			t.Fatalf("%q and its negation agree on %g", s, v)
		}
	})
}

// TestHTTPErrorOnlyWhenUnanswered: a request nobody answers is a
// measurement error (retried); an answer that fails the check is not.
func TestHTTPErrorOnlyWhenUnanswered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	answered := srv.URL
	srv.Close() // now nothing listens there
	for _, tt := range []struct {
		name      string
		url       string
		wantError bool
	}{
		{"connection refused", answered, true},
		{"bad template", "/{{.Secret}}", false},
	} {
		res := analysis.HTTP{}.Measure(context.Background(), analysis.Target{}, &v1alpha1.AnalysisCheck{Name: "c", HTTP: &v1alpha1.HTTPCheck{URL: tt.url}})
		if res.Success || res.Error != tt.wantError {
			t.Errorf("%s: %+v; want a failure with Error %t", tt.name, res, tt.wantError)
		}
	}
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer live.Close()
	if res := (analysis.HTTP{}).Measure(context.Background(), analysis.Target{}, &v1alpha1.AnalysisCheck{Name: "c", HTTP: &v1alpha1.HTTPCheck{URL: live.URL}}); res.Error || res.Success {
		t.Errorf("a 503 answer: %+v; want a failed measurement, not an error", res)
	}
}

// TestHTTPMeasuresOnANewConnection: each measurement opens its own
// connection, so a Service switch is seen by the next one (a kept-alive
// connection would stay with the pod it reached first).
func TestHTTPMeasuresOnANewConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	check := &v1alpha1.AnalysisCheck{Name: "c", HTTP: &v1alpha1.HTTPCheck{URL: srv.URL}}
	for range 3 {
		if res := (analysis.HTTP{}).Measure(context.Background(), analysis.Target{}, check); !res.Success {
			t.Fatalf("measure: %+v", res)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("3 measurements used %d connections; want 3", n)
	}
}
