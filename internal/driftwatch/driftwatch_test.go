package driftwatch_test

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/release/releasetest"
)

func TestMain(m *testing.M) {
	release.UseHelmFieldManager()
	clustertest.Main(m)
}

func TestWatcherReportsDriftOfAReleaseInstalledByTheCLI(t *testing.T) {
	env := clustertest.New(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	ctx := t.Context()
	c, err := client.New(env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	secretstest.CreatePlatformSecrets(ctx, t, c, env.Namespace, "x")
	e, err := envconfig.Load(filepath.Join("..", "..", "environments", "development.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.Release.Namespace = env.Namespace
	plan, err := release.Prepare(ctx, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := releasetest.Manager(t, plan.Target(env.Cluster.Kubeconfig, "")).Upgrade(ctx, plan, release.Options{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}

	releases, err := driftwatch.ParseReleases(env.Config, []string{env.Namespace + "/agentic-rag"})
	if err != nil {
		t.Fatal(err)
	}
	m := startWatcher(t, c, releases)
	gauge, checks := m.Objects, m.Checks
	value := func() float64 { return testutil.ToFloat64(gauge.WithLabelValues(env.Namespace, "agentic-rag")) }

	// Clean: the gauge is set to 0 (it exists once a check ran).
	clustertest.Eventually(t, 20*time.Second, "first check", func(context.Context) (bool, error) {
		return testutil.CollectAndCount(gauge) == 1 && value() == 0, nil
	})
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "agentic-rag-api"}, &cm); err != nil {
		t.Fatal(err)
	}
	deployed := maps.Clone(cm.Data)
	cm.Data["LOG_LEVEL"] = "trace"
	if err := c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	event := func(ctx context.Context, reason, message string) (bool, error) {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(env.Namespace)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Source.Component == "ragdeploy-controller" && e.InvolvedObject.Name == "agentic-rag-api" && strings.Contains(e.Message, message) {
				return true, nil
			}
		}
		return false, nil
	}
	clustertest.Eventually(t, 20*time.Second, "drift gauge and Event", func(ctx context.Context) (bool, error) {
		if value() != 1 {
			return false, nil
		}
		return event(ctx, drift.ReasonDriftDetected, "/data/LOG_LEVEL")
	})
	// Drift fixed: one detection (labeled with the release's environment),
	// one duration observed, and a DriftResolved Event on the object.
	if err := c.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "agentic-rag-api"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data = deployed
	if err := c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 20*time.Second, "DriftResolved Event", func(ctx context.Context) (bool, error) {
		if value() != 0 {
			return false, nil
		}
		return event(ctx, drift.ReasonDriftResolved, "matches the release")
	})
	if n := testutil.ToFloat64(m.Detections.WithLabelValues("development", env.Namespace, "agentic-rag")); n != 1 {
		t.Fatalf("%v drift detections for environment development; want 1", n)
	}
	if n := testutil.CollectAndCount(m.Duration); n != 1 {
		t.Fatalf("%d drift durations; want 1", n)
	}

	// Each check was counted by its result.
	if clean, drifted := testutil.ToFloat64(checks.WithLabelValues(env.Namespace, "agentic-rag", "clean")),
		testutil.ToFloat64(checks.WithLabelValues(env.Namespace, "agentic-rag", "drift")); clean < 1 || drifted < 1 {
		t.Fatalf("checks counted: %v clean, %v drift; want at least one of each", clean, drifted)
	}
	if _, err := driftwatch.ParseReleases(env.Config, []string{"no-slash"}); err == nil {
		t.Fatal("a release without namespace/ was accepted")
	}
}

// The controller's drift watch and `ragdeploy drift` judge one release
// alike: the environment's ignore rules and the Secrets ragdeploy applied
// (by fingerprint, a key added by hand included) count for both.
func TestWatcherAndCLIJudgeDriftAlike(t *testing.T) {
	env := clustertest.New(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	ctx := t.Context()
	c, err := client.New(env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := envconfig.Load(filepath.Join("..", "..", "environments", "development.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.Release.Namespace = env.Namespace
	e.Secrets.File = encrypted(t, "password", "token")
	e.Drift.Ignore = []objects.IgnoreRule{{Kind: "Deployment", Name: "agentic-rag-*", Pointers: []string{"/spec/replicas"}}}
	plan, err := release.Prepare(ctx, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli := releasetest.Manager(t, plan.Target(env.Cluster.Kubeconfig, ""))
	if _, err := cli.Upgrade(ctx, plan, release.Options{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	key := func(name string) types.NamespacedName {
		return types.NamespacedName{Namespace: env.Namespace, Name: name}
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, key("agentic-rag-api"), &dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = new(int32(4)) // ignored by the environment's rule
	if err := c.Update(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*corev1.Secret){
		"agentic-rag-redis":      func(s *corev1.Secret) { s.Data["extra"] = []byte("by-hand") },
		"agentic-rag-postgresql": func(s *corev1.Secret) { s.Data["password"] = []byte("changed-by-hand") },
	} {
		var s corev1.Secret
		if err := c.Get(ctx, key(name), &s); err != nil {
			t.Fatal(err)
		}
		edit(&s)
		if err := c.Update(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}

	fromCLI, err := cli.Drift(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	inCluster, err := releasetest.Manager(t, release.Target{Config: env.Config, Namespace: env.Namespace, Name: "agentic-rag"}).StoredDrift(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "Secret " + env.Namespace + "/agentic-rag-postgresql:Drifted /data/password\n" +
		"Secret " + env.Namespace + "/agentic-rag-redis:Drifted /data/extra\n"
	if fromCLI.Signature() != want || inCluster.Signature() != want {
		t.Fatalf("CLI report:\n%s\ncontroller report:\n%s\nwant both:\n%s", fromCLI.Signature(), inCluster.Signature(), want)
	}

	releases, err := driftwatch.ParseReleases(env.Config, []string{env.Namespace + "/agentic-rag"})
	if err != nil {
		t.Fatal(err)
	}
	gauge := startWatcher(t, c, releases).Objects
	clustertest.Eventually(t, 20*time.Second, "the gauge at 2", func(context.Context) (bool, error) {
		return testutil.CollectAndCount(gauge) == 1 && testutil.ToFloat64(gauge.WithLabelValues(env.Namespace, "agentic-rag")) == 2, nil
	})
}

// encrypted writes a SOPS file with the keys for each of the platform's
// Secrets, encrypted for a new age key that SOPS_AGE_KEY_FILE points at.
func encrypted(t *testing.T, keys ...string) string {
	secrets := map[string]map[string]string{}
	for name := range secretstest.PlatformSecrets {
		secrets[name] = map[string]string{}
		for _, k := range keys {
			secrets[name][k] = "value-of-" + name
		}
	}
	return secretstest.Encrypt(t, secrets)
}

// startWatcher runs a drift watch over releases until the test ends and
// returns its metrics.
func startWatcher(t *testing.T, c client.Client, releases []driftwatch.Release) *driftwatch.Metrics {
	m := driftwatch.NewMetrics()
	w := &driftwatch.Watcher{Client: c, Releases: releases, Interval: 300 * time.Millisecond, Metrics: m,
		Source: "ragdeploy-controller", Log: logr.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}
