// Package driftwatch runs drift detection inside the controller for the
// releases it is told to watch (opt-in): every interval it compares each
// release's last deployed revision with the live cluster, sets
// ragdeploy_drift_objects and records a DriftDetected Event per drifted
// object. Only the leader runs it.
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

// Watcher checks releases periodically; it is a controller-runtime Runnable.
type Watcher struct {
	Client   client.Client
	Releases []*release.Manager
	Interval time.Duration
	Gauge    *prometheus.GaugeVec
	Log      logr.Logger

	// reported is the signature of the last drift recorded per release, so
	// Events are recorded when drift changes, not at every check.
	reported map[string]string
}

// ParseReleases turns "namespace/name" arguments into releases on cfg.
func ParseReleases(cfg *rest.Config, refs []string) ([]*release.Manager, error) {
	var out []*release.Manager
	for _, r := range refs {
		ns, name, ok := strings.Cut(r, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--drift-release %q: want namespace/name (hint: agentic-rag/agentic-rag)", r)
		}
		m, err := release.NewManager(release.Target{Config: cfg, Namespace: ns, Name: name})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
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

func (w *Watcher) check(ctx context.Context, m *release.Manager) {
	r := m.Target
	report, err := m.StoredDrift(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Error(err, "drift check failed", "release", r.String())
		}
		return
	}
	w.Gauge.WithLabelValues(r.Namespace, r.Name).Set(float64(len(report.Objects)))
	sig := report.Signature()
	if report.Clean() || w.reported[r.String()] == sig {
		w.reported[r.String()] = sig
		return
	}
	w.reported[r.String()] = sig
	w.Log.Info("drift detected", "release", r.String(), "objects", len(report.Objects))
	if err := drift.RecordEvents(ctx, w.Client, report, "ragdeploy-controller"); err != nil {
		w.Log.Error(err, "drift events", "release", r.String())
	}
}
