package controller

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing. The deployment quality metrics are labeled environment, app
// and strategy (bluegreen.ScopeOf) and count each rollout the history
// records, as `ragdeploy report` does.
type Metrics struct {
	phase    *prometheus.GaugeVec
	analysis *prometheus.CounterVec
	switches prometheus.Histogram

	deployments *prometheus.CounterVec
	failures    *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	recovery    *prometheus.HistogramVec
	leadTime    *prometheus.HistogramVec
	// scopes holds the scopes whose series exist (see initScope).
	scopes sync.Map
}

var phases = []v1alpha1.Phase{v1alpha1.PhaseProgressing, v1alpha1.PhasePaused, v1alpha1.PhaseHealthy, v1alpha1.PhaseDegraded, v1alpha1.PhaseAborted}

var scopeLabels = []string{"environment", "app", "strategy"}

// slowBuckets span a second to about an hour.
var slowBuckets = prometheus.ExponentialBuckets(1, 2, 12)

// NewMetrics creates the metrics and registers them with reg, sharing any
// already registered there (several managers in one process).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ragdeploy_rollout_phase",
			Help: "1 for the current phase of each Rollout, 0 for the others.",
		}, []string{"namespace", "name", "phase"}),
		switches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ragdeploy_rollout_switch_seconds",
			Help:    "Time from the observation that decided a switch of the active Service to the switch being stored by the API server.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		analysis: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragdeploy_analysis_total",
			Help: "Analysis measurements by result.",
		}, []string{"result"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragdeploy_deployments_total",
			Help: "Finished rollouts by outcome (Promoted, Aborted, RolledBack, Superseded) and whether they were promoted or rolled back without a person's command (automated).",
		}, append(scopeLabels, "outcome", "automated")),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragdeploy_change_failures_total",
			Help: "Failed changes: rollouts aborted or rolled back, and stable revisions rolled back by hand.",
		}, scopeLabels),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragdeploy_rollbacks_total",
			Help: "Returns to the stable version, by trigger: automatic (the controller) or manual (abort, undo, rollback).",
		}, append(scopeLabels, "trigger")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ragdeploy_rollout_duration_seconds",
			Help:    "Time from a rollout's start to its outcome.",
			Buckets: slowBuckets,
		}, append(scopeLabels, "outcome")),
		recovery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ragdeploy_recovery_seconds",
			Help:    "Time users were served a failed version: its failure (or a rollback's start) to the stable version serving again.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}, scopeLabels),
		leadTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ragdeploy_lead_time_seconds",
			Help:    "Time from the image's creation (the template's ragdeploy.io/image-created) to its promotion.",
			Buckets: prometheus.ExponentialBuckets(60, 2, 14),
		}, scopeLabels),
	}
	var err error
	if m.phase, err = register(reg, m.phase); err != nil {
		return nil, err
	}
	if m.analysis, err = register(reg, m.analysis); err != nil {
		return nil, err
	}
	if m.switches, err = register(reg, m.switches); err != nil {
		return nil, err
	}
	if m.deployments, err = register(reg, m.deployments); err != nil {
		return nil, err
	}
	if m.failures, err = register(reg, m.failures); err != nil {
		return nil, err
	}
	if m.rollbacks, err = register(reg, m.rollbacks); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.recovery, err = register(reg, m.recovery); err != nil {
		return nil, err
	}
	if m.leadTime, err = register(reg, m.leadTime); err != nil {
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

// observe records the phase a reconcile decided.
func (m *Metrics) observe(b *v1alpha1.Rollout, p *bluegreen.Plan) {
	if m == nil {
		return
	}
	m.initScope(bluegreen.ScopeOf(b))
	for _, ph := range phases {
		v := 0.0
		if p.Status.Phase == ph {
			v = 1
		}
		m.phase.WithLabelValues(b.Namespace, b.Name, string(ph)).Set(v)
	}
}

// scopeValues are the label values of scope s, and a function that
// appends a metric's own values to them.
func scopeValues(s bluegreen.Scope) ([]string, func(extra ...string) []string) {
	scope := []string{s.Environment, s.App, s.Strategy}
	return scope, func(extra ...string) []string { return append(append([]string{}, scope...), extra...) }
}

// initScope creates every quality series of scope at zero the first time
// the scope is seen, before anything is counted in it: Prometheus's
// increase() cannot see the first increment of a series whose first
// sample is already 1.
func (m *Metrics) initScope(s bluegreen.Scope) {
	if _, seen := m.scopes.LoadOrStore(s, true); seen {
		return
	}
	scope, with := scopeValues(s)
	for _, o := range []v1alpha1.Outcome{v1alpha1.OutcomePromoted, v1alpha1.OutcomeAborted, v1alpha1.OutcomeRolledBack, v1alpha1.OutcomeSuperseded} {
		for _, automated := range []string{"true", "false"} {
			m.deployments.WithLabelValues(with(string(o), automated)...)
		}
		m.duration.WithLabelValues(with(string(o))...)
	}
	for _, t := range []string{bluegreen.TriggerAutomatic, bluegreen.TriggerManual} {
		m.rollbacks.WithLabelValues(with(t)...)
	}
	m.failures.WithLabelValues(scope...)
	m.recovery.WithLabelValues(scope...)
	m.leadTime.WithLabelValues(scope...)
}

// recorded counts the rollouts a plan put in the history, and the recovery
// it dated, once their status is stored.
func (m *Metrics) recorded(b *v1alpha1.Rollout, p *bluegreen.Plan) {
	if m == nil {
		return
	}
	s := bluegreen.ScopeOf(b)
	m.initScope(s)
	scope, with := scopeValues(s)
	for i := range p.Recorded {
		r := &p.Recorded[i]
		m.deployments.WithLabelValues(with(string(r.Outcome), strconv.FormatBool(bluegreen.Automated(r)))...).Inc()
		if !bluegreen.Counted(r) {
			continue
		}
		if n := bluegreen.ChangeFailures(r); n > 0 {
			m.failures.WithLabelValues(scope...).Add(float64(n))
		}
		if t := bluegreen.RollbackTrigger(r); t != "" {
			m.rollbacks.WithLabelValues(with(t)...).Inc()
		}
		if d, ok := bluegreen.Duration(r); ok {
			m.duration.WithLabelValues(with(string(r.Outcome))...).Observe(d.Seconds())
		}
		if d, ok := bluegreen.Recovery(r); ok {
			m.recovery.WithLabelValues(scope...).Observe(d.Seconds())
		}
		if d, ok := bluegreen.LeadTime(r); ok {
			m.leadTime.WithLabelValues(scope...).Observe(d.Seconds())
		}
	}
	if r := p.Recovered; r != nil {
		if d, ok := bluegreen.Recovery(r); ok {
			m.recovery.WithLabelValues(scope...).Observe(d.Seconds())
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

// forget drops the series of a deleted Rollout.
func (m *Metrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	for _, ph := range phases {
		m.phase.DeleteLabelValues(namespace, name, string(ph))
	}
}
