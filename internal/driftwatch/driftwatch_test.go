package driftwatch_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

func TestWatcherReportsDriftOfAReleaseInstalledByTheCLI(t *testing.T) {
	env := clustertest.New(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	ctx := t.Context()
	c, err := client.New(env.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"agentic-rag-postgresql", "agentic-rag-redis", "agentic-rag-chromadb"} {
		if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: env.Namespace}, StringData: map[string]string{"password": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := envconfig.Load(filepath.Join("..", "..", "environments", "development.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.Release.Namespace = env.Namespace
	plan, err := release.Prepare(ctx, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.Upgrade(ctx, plan.Target(env.Cluster.Kubeconfig, ""), plan, release.Options{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}

	releases, err := driftwatch.ParseReleases(env.Config, []string{env.Namespace + "/agentic-rag"})
	if err != nil {
		t.Fatal(err)
	}
	gauge := drift.NewObjectsGauge()
	w := &driftwatch.Watcher{Client: c, Releases: releases, Interval: 300 * time.Millisecond, Gauge: gauge, Log: logr.Discard()}
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Start(wctx) }()
	t.Cleanup(func() { cancel(); <-done })
	value := func() float64 { return testutil.ToFloat64(gauge.WithLabelValues(env.Namespace, "agentic-rag")) }

	// Clean: the gauge is set to 0 (it exists once a check ran).
	clustertest.Eventually(t, 20*time.Second, "first check", func(context.Context) (bool, error) {
		return testutil.CollectAndCount(gauge) == 1 && value() == 0, nil
	})
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: "agentic-rag-api"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "trace"
	if err := c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 20*time.Second, "drift gauge and Event", func(ctx context.Context) (bool, error) {
		if value() != 1 {
			return false, nil
		}
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(env.Namespace)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "DriftDetected" && e.Source.Component == "ragdeploy-controller" && strings.Contains(e.Message, "/data/LOG_LEVEL") {
				return true, nil
			}
		}
		return false, nil
	})
	if _, err := driftwatch.ParseReleases(env.Config, []string{"no-slash"}); err == nil {
		t.Fatal("a release without namespace/ was accepted")
	}
}
