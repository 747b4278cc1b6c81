// Package controller is the ragdeploy controller: the reconciler that
// observes a rollout's objects, asks bluegreen.Decide for a plan and applies
// it (reconciler.go, observe.go, apply.go, revisions.go), its metrics, the
// CRDs it serves, and the controller-runtime manager that runs it with
// leader election, metrics and health probes (manager.go).
package controller

import (
	"context"
	"fmt"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/notify"
)

// Options configure the controller.
type Options struct {
	// MetricsAddr serves /metrics ("0" disables it).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables it).
	ProbeAddr string
	// PprofAddr serves Go's /debug/pprof profiles ("" or "0": off).
	PprofAddr string
	// LeaderElection lets several replicas run with one active.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease (default: in-cluster namespace).
	LeaderElectionNamespace string
	// LeaseDuration of the leader Lease; RenewDeadline and RetryPeriod follow from it.
	LeaseDuration time.Duration
	// Namespace limits the controller to one namespace ("" watches all).
	Namespace string
	// KeepLeaseOnStop does not release the leader Lease on stop, as after a
	// crash (the default releases it so a standby takes over at once).
	KeepLeaseOnStop bool
	// MultipleInProcess allows several managers in one process (tests run
	// one per namespace); controller names are then not checked for clashes.
	MultipleInProcess bool
	// Workers is how many rollouts are reconciled at once (default
	// DefaultWorkers); one rollout is never reconciled by two at once.
	Workers int
}

// DefaultWorkers reconcile different rollouts in parallel: a pass spends
// most of its time waiting for the API server, so one rollout's writes do
// not hold up another's switch.
const DefaultWorkers = 8

// DefaultOptions are the options of `ragdeploy controller`.
func DefaultOptions() Options {
	return Options{MetricsAddr: ":8080", ProbeAddr: ":8081", LeaderElection: true, LeaseDuration: 15 * time.Second, Workers: DefaultWorkers}
}

// New returns a manager running the blue-green reconciler.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// client-go's default (5 QPS) would pace every reconcile; rely on the
		// API server's priority and fairness instead, as controller-runtime does.
		cfg.QPS = -1
	}
	managed, err := labels.NewRequirement(bluegreen.LabelName, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	onlyManaged := cache.ByObject{Label: labels.NewSelector().Add(*managed)}
	pods := onlyManaged
	pods.Transform = podForCache
	cacheOpts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}: pods, &appsv1.Deployment{}: onlyManaged, &batchv1.Job{}: onlyManaged,
		&appsv1.ControllerRevision{}: onlyManaged,
	},
		// managedFields are most of a cached object's size and nothing
		// here reads them (writes are server-side applies, patches, or
		// updates that leave them to the API server).
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if o.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	lease := o.LeaseDuration
	if lease <= 0 {
		lease = 15 * time.Second
	}
	renew, retry := lease*2/3, lease/5
	workers := o.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        v1alpha1.Scheme(),
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.ProbeAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              "ragdeploy-controller",
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: !o.KeepLeaseOnStop,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
		Controller:                    config.Controller{SkipNameValidation: &o.MultipleInProcess, MaxConcurrentReconciles: workers},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	m, err := NewMetrics(metrics.Registry)
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("ragdeploy"),
		Measurer: analysis.Measurer{
			HTTP:       analysis.HTTP{Client: &http.Client{}},
			Prometheus: analysis.Prometheus{Client: &http.Client{}},
			Job:        analysis.Job{Client: mgr.GetClient()},
		},
		Notifier: notify.Webhooks{},
		Metrics:  m,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}

// podForCache keeps of a pod what the controller reads (observe): its
// metadata without managedFields, its phase and conditions. The spec and the
// rest of the status are most of a pod's size, and a cluster of rollouts has
// more pods than anything else the controller caches.
func podForCache(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	p.ManagedFields = nil
	p.Spec = corev1.PodSpec{}
	p.Status = corev1.PodStatus{Phase: p.Status.Phase, Conditions: p.Status.Conditions}
	return p, nil
}

// Start runs a controller in the background of this process (local up on
// kwok nodes, tests, benchmarks); stop cancels it, waits until it has
// stopped and returns why it ended, when it ended with an error.
func Start(cfg *rest.Config, o Options) (stop func() error, err error) {
	mgr, err := New(cfg, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error { cancel(); return <-done }, nil
}
