// Package driftwatch checks releases for drift on an interval: every
// interval a Watcher runs each Release's check (for the controller, Stored:
// the last deployed revision against the live cluster; for `ragdeploy drift
// --watch`, the environment as it is now), sets ragdeploy_drift_objects,
// counts checks by result and drift detections, measures how long drift
// lasted, and records a DriftDetected Event per drifted object and a
// DriftResolved one on each when the release is clean again. In the
// controller it is opt-in (--drift-release) and only the leader runs it.
package driftwatch

import (
	"context"
	"fmt"
	"slices"
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
	Metrics  *Metrics
	// Source names the Events' reporting component.
	Source string
	Log    logr.Logger

	// reported is the signature of the last drift recorded per release, so
	// Events are recorded when drift changes, not at every check; drifted
	// is the release's drift since it began (its first report and when).
	reported map[string]string
	drifted  map[string]episode
}

// episode is a release's drift from the check that found it to the first
// clean one: report holds every object that drifted in it (each resolved
// when the release is clean again).
type episode struct {
	since  time.Time
	report *drift.Report
}

func (e *episode) add(r *drift.Report) {
	for _, o := range r.Objects {
		if !slices.ContainsFunc(e.report.Objects, func(x drift.Object) bool { return x.Ref == o.Ref }) {
			e.report.Objects = append(e.report.Objects, o)
		}
	}
}

// Metrics are the drift watch's Prometheus metrics, labeled namespace and
// release (and environment: the release's "environment" value, else its
// namespace).
type Metrics struct {
	// Objects is ragdeploy_drift_objects: the drifted objects per release.
	Objects *prometheus.GaugeVec
	// Checks is ragdeploy_drift_checks_total by result (clean, drift, error).
	Checks *prometheus.CounterVec
	// Detections is ragdeploy_drift_detections_total: a release found
	// drifted after a clean check (or the first).
	Detections *prometheus.CounterVec
	// Duration is ragdeploy_drift_duration_seconds: how long drift lasted,
	// observed when a check finds the release clean again.
	Duration *prometheus.HistogramVec
}

// NewMetrics creates the drift metrics (register them with Collectors).
func NewMetrics() *Metrics {
	labels := []string{"environment", "namespace", "release"}
	return &Metrics{
		Objects: drift.NewObjectsGauge(),
		Checks:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ragdeploy_drift_checks_total", Help: "Drift checks by result (clean, drift, error)."}, []string{"namespace", "release", "result"}),
		Detections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ragdeploy_drift_detections_total",
			Help: "Drift found on a release that was clean at the previous check (or at the first)."}, labels),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ragdeploy_drift_duration_seconds",
			Help: "How long drift lasted: first check that found it to the first clean one.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)}, labels),
	}
}

// Collectors are the metrics, to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Objects, m.Checks, m.Detections, m.Duration}
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
	w.reported, w.drifted = map[string]string{}, map[string]episode{}
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

// now is the clock to the microsecond, as Events store it.
func (w *Watcher) now() time.Time { return time.Now().Truncate(time.Microsecond) }

func (w *Watcher) check(ctx context.Context, r Release) {
	t, m := r.Target, w.Metrics
	report, err := r.Check(ctx)
	result := "clean"
	defer func() {
		if ctx.Err() == nil {
			m.Checks.WithLabelValues(t.Namespace, t.Name, result).Inc()
		}
	}()
	if err != nil {
		result = "error"
		if ctx.Err() == nil {
			w.Log.Error(err, "drift check failed", "release", t.String())
		}
		return
	}
	env := report.Environment
	if env == "" {
		env = t.Namespace
	}
	key := t.String()
	m.Objects.WithLabelValues(t.Namespace, t.Name).Set(float64(len(report.Objects)))
	// The release's series exist (at zero) from its first check on:
	// Prometheus's increase() cannot see the first increment of a series
	// whose first sample is already 1.
	detections, duration := m.Detections.WithLabelValues(env, t.Namespace, t.Name), m.Duration.WithLabelValues(env, t.Namespace, t.Name)
	now := w.now()
	if report.Clean() {
		if ep, ok := w.drifted[key]; ok {
			delete(w.drifted, key)
			duration.Observe(now.Sub(ep.since).Seconds())
			w.Log.Info("drift resolved", "release", key, "lasted", now.Sub(ep.since).String())
			if err := drift.RecordResolved(ctx, w.Client, ep.report, w.Source, now); err != nil {
				w.Log.Error(err, "drift events", "release", key)
			}
		}
		w.reported[key] = ""
		return
	}
	result = "drift"
	ep, ok := w.drifted[key]
	if !ok {
		ep = episode{since: now, report: &drift.Report{}}
		detections.Inc()
	}
	ep.add(report)
	w.drifted[key] = ep
	sig := report.Signature()
	if w.reported[key] == sig {
		return
	}
	w.reported[key] = sig
	w.Log.Info("drift detected", "release", key, "objects", len(report.Objects))
	if err := drift.RecordEvents(ctx, w.Client, report, w.Source, now); err != nil {
		w.Log.Error(err, "drift events", "release", key)
	}
}
