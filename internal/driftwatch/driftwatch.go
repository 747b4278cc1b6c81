// Package driftwatch checks releases for drift on an interval: every
// interval a Watcher runs each Release's check (for the controller, Stored:
// the last deployed revision against the live cluster; for `ragdeploy drift
// --watch`, the environment as it is now), sets ragdeploy_drift_objects,
// counts checks by result and records a DriftDetected Event per drifted
// object. In the controller it is opt-in (--drift-release) and only the
// leader runs it.
package driftwatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// Release is one release a Watcher checks.
type Release struct {
	Target release.Target
	// Check compares the release with the live cluster.
	Check func(context.Context) (*drift.Report, error)
}

// Stored is a release checked against the drift configuration its last
// install or upgrade stored next to it (what a controller, which has only
// the cluster, can check).
func Stored(m *release.Manager) Release {
	return Release{Target: m.Target, Check: m.StoredDrift}
}

// Watcher checks releases periodically; it is a controller-runtime Runnable
// (the controller's drift watch) and `ragdeploy drift --watch`.
type Watcher struct {
	Client   client.Client
	Releases []Release
	Interval time.Duration
	// Gauge is set to the drifted objects per release (drift.NewObjectsGauge).
	Gauge *prometheus.GaugeVec
	// Checks, when set, counts the checks per release by result (clean,
	// drift, error); see NewChecksCounter.
	Checks *prometheus.CounterVec
	// Source names the Events' reporting component.
	Source string
	Log    logr.Logger

	// reported is the signature of the last drift recorded per release, so
	// Events are recorded when drift changes, not at every check.
	reported map[string]string
}

// NewChecksCounter is ragdeploy_drift_checks_total.
func NewChecksCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ragdeploy_drift_checks_total", Help: "Drift checks by result (clean, drift, error)."}, []string{"namespace", "release", "result"})
}

// ParseReleases turns "namespace/name" arguments into stored-configuration
// releases on cfg.
func ParseReleases(cfg *rest.Config, refs []string) ([]Release, error) {
	var out []Release
	for _, r := range refs {
		ns, name, ok := strings.Cut(r, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--drift-release %q: want namespace/name (hint: agentic-rag/agentic-rag)", r)
		}
		m, err := release.NewManager(release.Target{Config: cfg, Namespace: ns, Name: name})
		if err != nil {
			return nil, err
		}
		out = append(out, Stored(m))
	}
	return out, nil
}

// NeedLeaderElection: one replica checks.
func (w *Watcher) NeedLeaderElection() bool { return true }

// Start checks every interval until ctx ends.
func (w *Watcher) Start(ctx context.Context) error {
	w.reported = map[string]string{}
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		for _, r := range w.Releases {
			w.check(ctx, r)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Watcher) check(ctx context.Context, r Release) {
	t := r.Target
	report, err := r.Check(ctx)
	result := "clean"
	defer func() {
		if w.Checks != nil && ctx.Err() == nil {
			w.Checks.WithLabelValues(t.Namespace, t.Name, result).Inc()
		}
	}()
	if err != nil {
		result = "error"
		if ctx.Err() == nil {
			w.Log.Error(err, "drift check failed", "release", t.String())
		}
		return
	}
	w.Gauge.WithLabelValues(t.Namespace, t.Name).Set(float64(len(report.Objects)))
	sig := report.Signature()
	if !report.Clean() {
		result = "drift"
	}
	if report.Clean() || w.reported[t.String()] == sig {
		w.reported[t.String()] = sig
		return
	}
	w.reported[t.String()] = sig
	w.Log.Info("drift detected", "release", t.String(), "objects", len(report.Objects))
	if err := drift.RecordEvents(ctx, w.Client, report, w.Source); err != nil {
		w.Log.Error(err, "drift events", "release", t.String())
	}
}
