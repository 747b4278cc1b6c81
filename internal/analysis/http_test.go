package analysis_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
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
		{"unexpected status", v1alpha1.HTTPCheck{URL: "/down"}, false, "status 503, want 200"},
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
