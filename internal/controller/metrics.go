package controller

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	phase    *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	rollback prometheus.Counter
	analysis *prometheus.CounterVec
	switches prometheus.Histogram
}

var phases = []v1alpha1.Phase{v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseHealthy, v1alpha1.PhaseDegraded, v1alpha1.PhaseAborted}

// NewMetrics creates the metrics and registers them with reg, sharing any
// already registered there (several managers in one process).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ragdeploy_rollout_phase",
			Help: "1 for the current phase of each BlueGreenDeployment, 0 for the others.",
		}, []string{"namespace", "name", "phase"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ragdeploy_rollout_duration_seconds",
			Help:    "Time from a new revision to its promotion or abort.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}, []string{"result"}),
		rollback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ragdeploy_rollback_total",
			Help: "Rollbacks: aborted revisions and instant rollbacks to a warm color.",
		}),
		switches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ragdeploy_rollout_switch_seconds",
			Help:    "Time from the observation that decided a switch of the active Service to the switch being stored by the API server.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		analysis: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragdeploy_analysis_total",
			Help: "Analysis measurements by result.",
		}, []string{"result"}),
	}
	var err error
	if m.phase, err = register(reg, m.phase); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.rollback, err = register(reg, m.rollback); err != nil {
		return nil, err
	}
	if m.analysis, err = register(reg, m.analysis); err != nil {
		return nil, err
	}
	if m.switches, err = register(reg, m.switches); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, err
}

// observe records what a reconcile decided.
func (m *Metrics) observe(b *v1alpha1.BlueGreenDeployment, w *world, p *bluegreen.Plan) {
	if m == nil {
		return
	}
	for _, ph := range phases {
		v := 0.0
		if p.Status.Phase == ph {
			v = 1
		}
		m.phase.WithLabelValues(b.Namespace, b.Name, string(ph)).Set(v)
	}
	started := w.Status.RolloutStartedAt
	for _, e := range p.Events {
		switch e.Reason {
		case v1alpha1.ReasonRolloutComplete:
			if started != nil {
				m.duration.WithLabelValues("promoted").Observe(w.Now.Sub(started.Time).Seconds())
			}
		case v1alpha1.ReasonProgressDeadline, v1alpha1.ReasonPrePromotionFailed, v1alpha1.ReasonPostPromotionFailed, v1alpha1.ReasonPreDeployJobFailed:
			m.rollback.Inc()
			if started != nil {
				m.duration.WithLabelValues("aborted").Observe(w.Now.Sub(started.Time).Seconds())
			}
		case v1alpha1.ReasonFastRollback:
			m.rollback.Inc()
		}
	}
}

// switched records a switch of the active Service decided at decidedAt.
func (m *Metrics) switched(decidedAt time.Time) {
	if m == nil {
		return
	}
	m.switches.Observe(time.Since(decidedAt).Seconds())
}

func (m *Metrics) measured(success bool) {
	if m == nil {
		return
	}
	result := "failed"
	if success {
		result = "successful"
	}
	m.analysis.WithLabelValues(result).Inc()
}

// forget drops the series of a deleted BlueGreenDeployment.
func (m *Metrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	for _, ph := range phases {
		m.phase.DeleteLabelValues(namespace, name, string(ph))
	}
}
