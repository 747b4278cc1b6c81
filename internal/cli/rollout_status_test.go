package cli

import (
	"strings"
	"testing"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/prober"
)

// TestParseProbe: the two forms of --probe, and clear errors for the rest.
func TestParseProbe(t *testing.T) {
	good := map[string]probeTarget{
		"service/api":              {service: &prober.ServiceOptions{Name: "api", Path: "/"}},
		"svc/api:8000/v1/ask":      {service: &prober.ServiceOptions{Name: "api", Port: "8000", Path: "/v1/ask"}},
		"service/api-preview:http": {service: &prober.ServiceOptions{Name: "api-preview", Port: "http", Path: "/"}},
		"http://127.0.0.1:8080/x":  {url: "http://127.0.0.1:8080/x"},
	}
	for in, want := range good {
		got, err := parseProbe(in)
		if err != nil {
			t.Errorf("parseProbe(%q): %v", in, err)
			continue
		}
		if got.url != want.url || (got.service == nil) != (want.service == nil) || got.service != nil && *got.service != *want.service {
			t.Errorf("parseProbe(%q) = %+v %+v; want %+v %+v", in, got, got.service, want, want.service)
		}
	}
	for in, msg := range map[string]string{
		"service/":            "service name",
		"service/Bad_Name":    "service name",
		"service/api:99999":   "neither a port number nor a port name",
		"service/api:-x":      "neither a port number nor a port name",
		"ftp://host/x":        "want service/NAME",
		"api":                 "want service/NAME",
		"http://":             "want service/NAME",
		"deployment/api:8000": "want service/NAME",
	} {
		if _, err := parseProbe(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseProbe(%q) error %v; want one saying %q", in, err, msg)
		}
	}
}

// TestProbeNeedsWatch: --probe only makes sense while watching, in text.
func TestProbeNeedsWatch(t *testing.T) {
	for _, o := range []statusOptions{
		{rolloutOptions: rolloutOptions{Name: "api"}, Probe: "service/api", ProbeRate: 10, Timeout: 1, Interval: 1, Output: "text"},
		{rolloutOptions: rolloutOptions{Name: "api"}, Probe: "service/api", ProbeRate: 10, Timeout: 1, Interval: 1, Output: "json", Watch: true},
		{rolloutOptions: rolloutOptions{Name: "api"}, Probe: "service/api", ProbeRate: 0, Timeout: 1, Interval: 1, Output: "text", Watch: true},
		{rolloutOptions: rolloutOptions{Name: "api"}, Probe: "service/api", ProbeRate: 101, Timeout: 1, Interval: 1, Output: "text", Watch: true},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("validate(%+v) passed", o)
		}
	}
	ok := statusOptions{rolloutOptions: rolloutOptions{Name: "api"}, Probe: "service/api", ProbeRate: 10, Timeout: 1, Interval: 1, Output: "text", Watch: true}
	if err := ok.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// TestRenderStrategy: rollout status names the strategy and, for a
// rolling update in flight, its bounds, its batches and where it stands.
func TestRenderStrategy(t *testing.T) {
	b := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Replicas: new(int32(3)), Strategy: v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{
		Pause: &v1alpha1.CanaryPause{},
	}}}}
	b.Status.Rolling = &v1alpha1.StepStatus{Step: 1, SetWeight: 33, CanaryPods: 1, TotalPods: 3}
	var s strings.Builder
	renderStrategy(&s, b)
	want := `Strategy:   rolling (maxSurge 1, maxUnavailable 0), step 2/5, weight 33% (1 of 3 pods) (the steps ask 33%)
   1  batch 1: 1 new pod(s) done
   2  pause                 current
   3  batch 2: 2 new pod(s)
   4  pause
   5  batch 3: 3 new pod(s)
`
	if s.String() != want {
		t.Errorf("rolling:\n%s\nwant:\n%s", s.String(), want)
	}
	s.Reset()
	b.Spec.Strategy = v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}}
	if renderStrategy(&s, b); s.String() != "Strategy:   blueGreen\n" {
		t.Errorf("blue-green: %q", s.String())
	}
}
