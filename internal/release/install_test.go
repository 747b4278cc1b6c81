package release_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	clustertest.Main(m)
}

var environments = []string{"development", "staging", "production"}

// platform is an environment to install into a fresh restricted namespace,
// with the CRDs, a controller for that namespace and the credentials Secrets.
type platform struct {
	env    *clustertest.Env
	c      client.Client
	values map[string]any
	target release.Target
}

func newPlatform(t *testing.T, name string) *platform {
	t.Helper()
	env := clustertest.New(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	if err := controller.InstallCRDs(t.Context(), env.Config); err != nil {
		t.Fatal(err)
	}
	e, err := envconfig.Load(filepath.Join("..", "..", "environments", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"agentic-rag-postgresql", "agentic-rag-redis", "agentic-rag-chromadb"} {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: env.Namespace},
			StringData: map[string]string{"password": "pw-" + s, "token": "tok-" + s},
		}
		if err := c.Create(t.Context(), secret); err != nil {
			t.Fatal(err)
		}
	}
	mgr, err := controller.New(env.Config, controller.Options{MetricsAddr: "0", ProbeAddr: "0", Namespace: env.Namespace, MultipleInProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &platform{env: env, c: c, values: e.Values, target: release.Target{
		Kubeconfig: env.Cluster.Kubeconfig, Namespace: env.Namespace, Name: e.Release.Name,
	}}
}

func TestServerSideDryRunOfEveryObject(t *testing.T) {
	for _, name := range environments {
		t.Run(name, func(t *testing.T) {
			p := newPlatform(t, name)
			c, err := render.LoadChart(charts.FS, "agentic-rag")
			if err != nil {
				t.Fatal(err)
			}
			objs, err := render.Render(t.Context(), c, render.Release{Name: p.target.Name, Namespace: p.target.Namespace}, p.values)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if err := p.c.Create(t.Context(), o.DeepCopy(), client.DryRunAll); err != nil {
					t.Errorf("%s %s (%s): server-side dry-run: %v", o.GetKind(), o.GetName(), o.Template, err)
				}
			}
			// A dry run creates nothing.
			var list appsv1.StatefulSetList
			if err := p.c.List(t.Context(), &list, client.InNamespace(p.target.Namespace)); err != nil || len(list.Items) != 0 {
				t.Fatalf("dry run left %d StatefulSets (err %v)", len(list.Items), err)
			}
		})
	}
}

func TestInstallEachEnvironment(t *testing.T) {
	for _, name := range environments {
		t.Run(name, func(t *testing.T) {
			p := newPlatform(t, name)
			p.install(t)
			p.assertReady(t)
			if name == "development" {
				return
			}
			// Blue-green environments migrate before the api scales up.
			var jobs batchv1.JobList
			if err := p.c.List(t.Context(), &jobs, client.InNamespace(p.target.Namespace), client.MatchingLabels{v1alpha1.LabelName: "agentic-rag-api"}); err != nil {
				t.Fatal(err)
			}
			if len(jobs.Items) != 1 || jobs.Items[0].Status.Succeeded != 1 {
				t.Fatalf("%d migration Jobs; want one that succeeded", len(jobs.Items))
			}
		})
	}
}

func (p *platform) install(t *testing.T) {
	t.Helper()
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.Install(t.Context(), p.target, c, p.values, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// assertReady: StatefulSets and the api ready, every claim Bound.
func (p *platform) assertReady(t *testing.T) {
	t.Helper()
	ns := p.target.Namespace
	clustertest.Eventually(t, 90*time.Second, "workloads ready", func(ctx context.Context) (bool, error) {
		var sts appsv1.StatefulSetList
		if err := p.c.List(ctx, &sts, client.InNamespace(ns)); err != nil {
			return false, err
		}
		if len(sts.Items) != 3 {
			return false, nil
		}
		for _, s := range sts.Items {
			if s.Status.ReadyReplicas != *s.Spec.Replicas {
				return false, nil
			}
		}
		var deps appsv1.DeploymentList
		if err := p.c.List(ctx, &deps, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/component": "api"}); err != nil {
			return false, err
		}
		for _, d := range deps.Items {
			if d.Status.AvailableReplicas != *d.Spec.Replicas {
				return false, nil
			}
		}
		var bgds v1alpha1.BlueGreenDeploymentList
		if err := p.c.List(ctx, &bgds, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, b := range bgds.Items {
			if b.Status.Phase != v1alpha1.PhaseHealthy {
				return false, nil
			}
		}
		return len(deps.Items)+len(bgds.Items) > 0, nil
	})
	var pvcs corev1.PersistentVolumeClaimList
	if err := p.c.List(t.Context(), &pvcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(pvcs.Items) != 3 {
		t.Fatalf("%d claims; want one per database", len(pvcs.Items))
	}
	for _, c := range pvcs.Items {
		if c.Status.Phase != corev1.ClaimBound {
			t.Errorf("claim %s is %s; want Bound", c.Name, c.Status.Phase)
		}
	}
}

// claims maps each claim to its volume.
func (p *platform) claims(t *testing.T) map[string]string {
	t.Helper()
	var pvcs corev1.PersistentVolumeClaimList
	if err := p.c.List(t.Context(), &pvcs, client.InNamespace(p.target.Namespace)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range pvcs.Items {
		out[c.Name] = c.Spec.VolumeName
	}
	return out
}

func TestUninstallAndReinstallKeepsData(t *testing.T) {
	p := newPlatform(t, "development")
	p.install(t)
	p.assertReady(t)
	before := p.claims(t)
	if err := release.Uninstall(p.target, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSetList
	if err := p.c.List(t.Context(), &sts, client.InNamespace(p.target.Namespace)); err != nil || len(sts.Items) != 0 {
		t.Fatalf("uninstall left %d StatefulSets (err %v)", len(sts.Items), err)
	}
	if after := p.claims(t); len(after) != 3 {
		t.Fatalf("claims after uninstall: %v; want all 3 kept", after)
	}
	p.install(t)
	p.assertReady(t)
	after := p.claims(t)
	for claim, volume := range before {
		if after[claim] != volume {
			t.Errorf("claim %s bound to %q after reinstall; was %q", claim, after[claim], volume)
		}
	}
	for _, s := range []string{"agentic-rag-postgresql", "agentic-rag-redis", "agentic-rag-chromadb"} {
		var secret corev1.Secret
		if err := p.c.Get(t.Context(), types.NamespacedName{Namespace: p.target.Namespace, Name: s}, &secret); err != nil {
			t.Errorf("credentials Secret %s gone: %v", s, err)
		}
	}
}
