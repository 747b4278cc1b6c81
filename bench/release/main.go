// Command release measures environment operations on the local cluster:
//
//   - full install of the development environment through ragdeploy
//     (validation, secrets check, diff, server-side apply, wait) against a
//     plain Helm SDK install with kstatus wait of the same chart and values,
//     alternating, in the same process;
//   - an upgrade that changes only a config value, from the call to every
//     api pod rolled and ready, for development (rolling Deployment) and
//     staging (blue-green: new color up, switch, Healthy).
//
// Figures only.
//
//	go run ./bench/release [-runs 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/simapp"
	"github.com/agentic-rag/ragdeploy/internal/release"

	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
)

func main() {
	runs := flag.Int("runs", 5, "rounds per measurement")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	release.UseHelmFieldManager()
	if err := run(*runs); err != nil {
		fmt.Fprintf(os.Stderr, "bench/release: %v\n", err)
		os.Exit(1)
	}
}

type bench struct {
	cluster *localcluster.Cluster
	c       client.Client
	// app answers the analysis checks of blue-green environments.
	app *simapp.Server
}

func run(runs int) error {
	ctx := context.Background()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Nodes: 3})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
		return err
	}
	c, err := client.New(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return err
	}
	stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		return err
	}
	defer func() { _ = stop() }() // a benchmark that ran reports its figures; how the controller ended does not change them
	app, err := simapp.Start(c)
	if err != nil {
		return err
	}
	defer app.Close()
	b := &bench{cluster: cluster, c: c, app: app}

	fmt.Printf("bench/release: %d rounds each, local cluster with 3 kwok nodes\n", runs)
	var ours, plain []float64
	for i := 0; i < runs; i++ {
		p, err := b.prepare(ctx, "development", fmt.Sprintf("rd-%d", i))
		if err != nil {
			return err
		}
		start := time.Now()
		if err := b.upgrade(ctx, p); err != nil {
			return err
		}
		ours = append(ours, time.Since(start).Seconds())

		q, err := b.prepare(ctx, "development", fmt.Sprintf("helm-%d", i))
		if err != nil {
			return err
		}
		start = time.Now()
		if err := b.helmInstall(ctx, q); err != nil {
			return err
		}
		plain = append(plain, time.Since(start).Seconds())
	}
	fmt.Printf("install development: ragdeploy median %.2fs (min %.2f max %.2f); plain Helm SDK install+wait median %.2fs (min %.2f max %.2f); ratio %.2f (goal <= 1.0)\n",
		stats.Median(ours), slices.Min(ours), slices.Max(ours), stats.Median(plain), slices.Min(plain), slices.Max(plain), stats.Median(ours)/stats.Median(plain))

	for _, env := range []string{"development", "staging"} {
		p, err := b.prepare(ctx, env, "upgrade-"+env)
		if err != nil {
			return err
		}
		if err := b.upgrade(ctx, p); err != nil {
			return err
		}
		var times []float64
		for i := 0; i < runs; i++ {
			sets := append(b.app.AnalysisSets(p.Env.Values), fmt.Sprintf("api.config.LOG_LEVEL=level-%d", i))
			next, err := release.Prepare(ctx, p.Env, sets)
			if err != nil {
				return err
			}
			start := time.Now()
			m, err := release.NewManager(b.target(next))
			if err != nil {
				return err
			}
			res, err := m.Upgrade(ctx, next, release.Options{Timeout: 5 * time.Minute})
			if err != nil {
				return err
			}
			times = append(times, time.Since(start).Seconds())
			if len(res.Changes.Objects) != 2 {
				return fmt.Errorf("%s: config change touched %d objects; want the ConfigMap and the api workload", env, len(res.Changes.Objects))
			}
		}
		fmt.Printf("config change -> all api pods rolled and ready, %s: median %.2fs (min %.2f max %.2f; spec < 300 s, goal <= 30 s)\n",
			env, stats.Median(times), slices.Min(times), slices.Max(times))
	}
	return nil
}

// prepare loads an environment retargeted at namespace ns, creating the
// namespace and the credentials Secrets it references.
func (b *bench) prepare(ctx context.Context, name, ns string) (*release.Plan, error) {
	env, err := envconfig.Load(filepath.Join("environments", name+".yaml"))
	if err != nil {
		return nil, err
	}
	env.Release.Namespace = ns
	if err := b.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
		return nil, err
	}
	p, err := release.Prepare(ctx, env, b.app.AnalysisSets(env.Values))
	if err != nil {
		return nil, err
	}
	// The Secret keys the chart reads, as existing Secrets.
	for _, k := range p.SecretKeys() {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k.Secret, Namespace: ns}, StringData: map[string]string{k.Key: "bench"}}
		err := b.c.Create(ctx, secret)
		if apierrors.IsAlreadyExists(err) { // another key of the same Secret
			err = b.c.Patch(ctx, secret, client.MergeFrom(&corev1.Secret{ObjectMeta: secret.ObjectMeta}))
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (b *bench) target(p *release.Plan) release.Target {
	return p.Target(b.cluster.Kubeconfig, "")
}

// upgrade installs or upgrades p as ragdeploy does.
func (b *bench) upgrade(ctx context.Context, p *release.Plan) error {
	m, err := release.NewManager(b.target(p))
	if err != nil {
		return err
	}
	_, err = m.Upgrade(ctx, p, release.Options{Timeout: 5 * time.Minute})
	return err
}

// helmInstall is the baseline: the plain Helm SDK install of p's chart and
// values, waiting for every object by kstatus, without ragdeploy's
// secrets, diff or blue-green-aware wait.
func (b *bench) helmInstall(ctx context.Context, p *release.Plan) error {
	t := b.target(p)
	m, err := release.NewManager(t)
	if err != nil {
		return err
	}
	in := action.NewInstall(m.HelmConfiguration())
	in.ReleaseName, in.Namespace = t.Name, t.Namespace
	in.WaitStrategy, in.Timeout = kube.StatusWatcherStrategy, 5*time.Minute
	_, err = in.RunWithContext(ctx, p.Chart, p.Values)
	return err
}
