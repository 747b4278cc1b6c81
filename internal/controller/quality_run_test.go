package controller_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis/promtest"
	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/release/releasetest"
	"github.com/agentic-rag/ragdeploy/internal/report"
)

// rulesEverySecond is the chart's recording rules file with its group
// evaluated every second instead of every minute (the expressions as
// shipped), so that a test sees them follow its rollouts.
func rulesEverySecond(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../charts/ragdeploy/files/recording-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "interval: 1m") {
		t.Fatal("the rules file no longer sets interval: 1m; update this test")
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "interval: 1m", "interval: 1s", 1)), 0o600); err != nil { //nolint:gosec // G703: the test's own temporary directory
		t.Fatal(err)
	}
	return path
}

// A series of real rollouts (the first, an automatic promotion, one aborted
// by its failing pre-promotion check, another promotion, and an undo of it
// by hand) and a drift introduced into a Helm release and fixed are counted
// alike by the report (from the rollout's history and the drift Events),
// by the controller's and the drift watch's metrics as a real Prometheus
// scrapes them, and by the chart's recording rules evaluated by that
// Prometheus.
func TestQualityFiguresAgree(t *testing.T) {
	h := newHealthServer(t)
	driftMetrics := driftwatch.NewMetrics()
	driftRegistry := prometheus.NewRegistry()
	driftRegistry.MustRegister(driftMetrics.Collectors()...)
	target := httptest.NewServer(promhttp.HandlerFor(prometheus.Gatherers{metrics.Registry, driftRegistry}, promhttp.HandlerOpts{}))
	t.Cleanup(target.Close)
	prom := promtest.StartWithRules(t, []string{rulesEverySecond(t)}, target.URL+"/metrics")
	s := newScenario(t)
	env := s.env.Namespace
	// The environment is the namespace: the rollout's label, and the
	// release's "environment" value.
	sel := func(extra string) string { return fmt.Sprintf(`{environment=%q%s}`, env, extra) }

	// As in a cluster whose Prometheus runs before its deployments, it has
	// scraped the rollout's series (created at zero when the controller
	// first sees the rollout) before anything is counted: the first rollout
	// waits for its active Service, created after that scrape.
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) {
		b.Labels = map[string]string{v1alpha1.LabelEnvironment: env, "app.kubernetes.io/name": "scenario-api"}
		b.Spec.ActiveService = "api-later"
		b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 1, 0)}
	}))
	prom.WaitForData(t, "ragdeploy_deployments_total"+sel(""))
	s.update(func(b *v1alpha1.Rollout) { b.Spec.ActiveService = "api" })
	s.healthyOn(v1, 30*time.Second)
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.healthyOn(v2, 30*time.Second)
	h.status.Store(http.StatusInternalServerError)
	v3 := s.setImage("agentic-rag/api:3.0.0", nil)
	s.waitFor("3.0.0 aborted by its check", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == v3 && len(b.Status.History) > 0 && b.Status.History[0].RecoveredAt != nil
	})
	h.status.Store(http.StatusOK)
	v4 := s.setImage("agentic-rag/api:4.0.0", nil)
	s.healthyOn(v4, 30*time.Second)
	if undo := s.setImage("agentic-rag/api:2.0.0", nil); undo != v2 {
		t.Fatalf("undo revision %s; want %s", undo, v2)
	}
	b := s.healthyOn(v2, 30*time.Second)
	if h := b.Status.History; len(h) != 5 || h[0].RollbackOf != v4 {
		t.Fatalf("history %+v; want 5 rollouts, the newest the undo of %s", h, v4)
	}

	driftEpisode(t, s, prom, env, driftMetrics)

	var events corev1.EventList
	if err := s.c.List(t.Context(), &events, client.InNamespace(env)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r := report.Compute(report.Sources{Environment: env, Namespace: env, Rollouts: []v1alpha1.Rollout{*b}, Events: events.Items}, now.Add(-time.Hour), now)
	a := r.Apps[0]
	if r.Drift.Detections != 1 || r.Drift.Lasted.Count != 1 || len(r.Drift.Open) != 0 {
		t.Fatalf("report drift %+v; want one episode, resolved", r.Drift)
	}
	if a.Deployments != 5 || a.Promoted != 4 || a.Aborted != 1 || a.ChangeFailures != 2 || a.Rollbacks != (report.Rollbacks{Automatic: 1, Manual: 1}) ||
		a.Automated != 4 || a.RecoveryTime.Count != 1 || a.DeploymentTime.Count != 4 {
		t.Fatalf("report %+v; want 5 deployments: 4 promoted, 1 aborted, 2 change failures (3.0.0, and 4.0.0 undone), 1 automatic and 1 manual rollback, 4 automated, 1 recovery (the undo), 4 deployment times", a)
	}

	// The scraped counters and histograms equal the report's counts.
	exact := []struct {
		query string
		want  float64
	}{
		{`sum(ragdeploy_deployments_total` + sel(`,outcome!="Superseded"`) + `)`, float64(a.Deployments)},
		{`sum(ragdeploy_deployments_total` + sel(`,outcome="Promoted"`) + `)`, float64(a.Promoted)},
		{`sum(ragdeploy_deployments_total` + sel(`,outcome!="Superseded",automated="true"`) + `)`, float64(a.Automated)},
		{`sum(ragdeploy_change_failures_total` + sel("") + `)`, float64(a.ChangeFailures)},
		{`sum(ragdeploy_rollbacks_total` + sel(`,trigger="automatic"`) + `)`, float64(a.Rollbacks.Automatic)},
		{`sum(ragdeploy_rollbacks_total` + sel(`,trigger="manual"`) + `)`, float64(a.Rollbacks.Manual)},
		{`sum(ragdeploy_recovery_seconds_count` + sel("") + `)`, float64(a.RecoveryTime.Count)},
		{`sum(ragdeploy_rollout_duration_seconds_count` + sel(`,outcome="Promoted"`) + `)`, float64(a.DeploymentTime.Count)},
		{`sum(ragdeploy_drift_detections_total` + sel("") + `)`, float64(r.Drift.Detections)},
		{`sum(ragdeploy_drift_duration_seconds_count` + sel("") + `)`, float64(r.Drift.Lasted.Count)},
	}
	clustertest.Eventually(t, 30*time.Second, "scraped counters equal the report", func(context.Context) (bool, error) {
		for _, q := range exact {
			if v, ok := prom.Value(t, q.query); !ok || v != q.want {
				return false, fmt.Errorf("%s = %v (ok %v); want %v", q.query, v, ok, q.want)
			}
		}
		return true, nil
	})

	// The recording rules: ratios and means equal the report's; counts
	// agree within the extrapolation increase() applies at the window's end.
	near := func(v, want, tol float64) bool { return math.Abs(v-want) <= tol }
	rules := []struct {
		rule      string
		want, tol float64
	}{
		{"environment_app:ragdeploy_deployment_success:ratio1d", a.SuccessRate, 1e-9},
		{"environment_app:ragdeploy_change_failure:ratio1d", a.ChangeFailureRate, 1e-9},
		{"environment_app:ragdeploy_automation_coverage:ratio1d", a.AutomationCoverage, 1e-9},
		{"environment_app:ragdeploy_deployment_time_seconds:mean1d", a.DeploymentTime.MeanSeconds, 1e-6},
		{"environment_app:ragdeploy_recovery_seconds:mean1d", a.RecoveryTime.MeanSeconds, 1e-6},
		{"environment_app:ragdeploy_deployments:increase1d", float64(a.Deployments), 0.25},
		{"environment:ragdeploy_drift_duration_seconds:mean1d", r.Drift.Lasted.MeanSeconds, 1e-6},
		{"environment:ragdeploy_drift_detections:increase1d", float64(r.Drift.Detections), 0.25},
	}
	clustertest.Eventually(t, 30*time.Second, "recording rules agree with the report", func(context.Context) (bool, error) {
		for _, q := range rules {
			query := q.rule + sel(`,app="scenario-api"`)
			if strings.HasPrefix(q.rule, "environment:") {
				query = q.rule + sel("")
			}
			if v, ok := prom.Value(t, query); !ok || !near(v, q.want, q.tol) {
				return false, fmt.Errorf("%s = %v (ok %v); want %v ± %v", q.rule, v, ok, q.want, q.tol)
			}
		}
		for _, trigger := range []string{"automatic", "manual"} {
			if v, ok := prom.Value(t, "environment_app_trigger:ragdeploy_rollbacks:increase1d"+sel(`,app="scenario-api",trigger="`+trigger+`"`)); !ok || !near(v, 1, 0.25) {
				return false, fmt.Errorf("%s rollbacks per day = %v (ok %v); want 1", trigger, v, ok)
			}
		}
		return true, nil
	})
}

// driftEpisode installs the development environment as a Helm release in
// the scenario's namespace (its "environment" value the namespace), runs
// the drift watch over it, and once Prometheus has scraped its clean
// state drifts one of its ConfigMaps and puts it back, waiting for the
// DriftResolved Event.
func driftEpisode(t *testing.T, s *scenario, prom *promtest.Server, env string, m *driftwatch.Metrics) {
	t.Helper()
	ctx := t.Context()
	secretstest.CreatePlatformSecrets(ctx, t, s.c, env, "x")
	e, err := envconfig.Load(filepath.Join("..", "..", "environments", "development.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.Release.Namespace = env
	plan, err := release.Prepare(ctx, e, []string{"environment=" + env})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := releasetest.Manager(t, plan.Target(s.env.Cluster.Kubeconfig, "")).Upgrade(ctx, plan, release.Options{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	releases, err := driftwatch.ParseReleases(s.env.Config, []string{env + "/agentic-rag"})
	if err != nil {
		t.Fatal(err)
	}
	w := &driftwatch.Watcher{Client: s.c, Releases: releases, Interval: 300 * time.Millisecond, Metrics: m, Source: "ragdeploy-controller", Log: logr.Discard()}
	watchCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Start(watchCtx) }()
	defer func() { cancel(); <-done }()
	drifted := func() float64 { return testutil.ToFloat64(m.Objects.WithLabelValues(env, "agentic-rag")) }
	checks := func() float64 { return testutil.ToFloat64(m.Checks.WithLabelValues(env, "agentic-rag", "clean")) }
	clustertest.Eventually(t, 30*time.Second, "a clean drift check", func(context.Context) (bool, error) { return checks() > 0, nil })
	// Prometheus has the release's drift series at zero before the drift.
	prom.WaitForData(t, fmt.Sprintf(`ragdeploy_drift_detections_total{environment=%q}`, env))

	key := types.NamespacedName{Namespace: env, Name: "agentic-rag-api"}
	var cm corev1.ConfigMap
	if err := s.c.Get(ctx, key, &cm); err != nil {
		t.Fatal(err)
	}
	deployed := maps.Clone(cm.Data)
	cm.Data["LOG_LEVEL"] = "trace"
	if err := s.c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "the drift found", func(context.Context) (bool, error) { return drifted() == 1, nil })
	if err := s.c.Get(ctx, key, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data = deployed
	if err := s.c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "the DriftResolved Event", func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := s.c.List(ctx, &events, client.InNamespace(env)); err != nil {
			return false, err
		}
		return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
			return e.Reason == drift.ReasonDriftResolved && e.InvolvedObject.Name == "agentic-rag-api"
		}), nil
	})
}
