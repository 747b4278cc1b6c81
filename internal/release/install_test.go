package release_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/release/releasetest"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	release.UseHelmFieldManager()
	clustertest.Main(m)
}

var environments = []string{"development", "staging", "production"}

// secretValues are the credentials in the test's encrypted secrets file;
// no output may ever contain one.
var secretValues = secretstest.Values("release-test")

// platform is an environment retargeted at a fresh restricted namespace,
// with the CRDs, a controller for that namespace and a SOPS-encrypted
// secrets file for a fresh age key.
type platform struct {
	env    *clustertest.Env
	c      client.Client
	e      *envconfig.Environment
	target release.Target
	// release runs the release verbs on target.
	release *release.Manager
	// out collects everything the operations printed.
	out bytes.Buffer
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
	e.Release.Namespace = env.Namespace
	e.Secrets.File = encryptedSecrets(t)
	c, err := client.New(env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := controller.Start(env.Config, controller.Options{MetricsAddr: "0", ProbeAddr: "0", Namespace: env.Namespace, MultipleInProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	target := release.Target{Kubeconfig: env.Cluster.Kubeconfig, Namespace: env.Namespace, Name: e.Release.Name}
	return &platform{env: env, c: c, e: e, target: target, release: releasetest.Manager(t, target)}
}

// encryptedSecrets writes secretValues (as keys password and token of each
// Secret) encrypted for a new age key and points SOPS_AGE_KEY_FILE at the key.
func encryptedSecrets(t *testing.T) string { return encryptedSecretsWithout(t, "", "") }

func (p *platform) plan(t *testing.T, sets ...string) *release.Plan {
	t.Helper()
	plan, err := release.Prepare(t.Context(), p.e, sets)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// deploy installs or upgrades and records what it reported.
func (p *platform) deploy(t *testing.T, sets ...string) *release.Result {
	t.Helper()
	res, err := p.release.Upgrade(t.Context(), p.plan(t, sets...), release.Options{Timeout: 3 * time.Minute, Progress: &p.out})
	p.record(res)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.out.String())
	}
	return res
}

func (p *platform) record(v any) {
	data, _ := json.Marshal(v)
	p.out.Write(data)
}

// assertNoSecretValue fails when any output so far contains a secret value
// (in clear or base64).
func (p *platform) assertNoSecretValue(t *testing.T) {
	t.Helper()
	for _, v := range secretValues {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(p.out.String(), form) {
				t.Fatalf("output contains a secret value")
			}
		}
	}
}

func TestServerSideDryRunChangesNothing(t *testing.T) {
	for _, name := range environments {
		t.Run(name, func(t *testing.T) {
			p := newPlatform(t, name)
			plan := p.plan(t)
			for _, o := range plan.Objects {
				if err := p.c.Create(t.Context(), o.DeepCopy(), client.DryRunAll); err != nil {
					t.Errorf("%s %s (%s): server-side dry-run: %v", o.GetKind(), o.GetName(), o.Template, err)
				}
			}
			res, err := p.release.Upgrade(t.Context(), plan, release.Options{DryRun: true, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Installed || len(res.Changes.Objects) != len(plan.Objects)+len(plan.Secrets) {
				t.Fatalf("dry-run install reports %d new objects; want %d", len(res.Changes.Objects), len(plan.Objects)+len(plan.Secrets))
			}
			assertEmptyNamespace(t, p.c, p.target)
		})
	}
}

// assertEmptyNamespace proves nothing was created: no workload, no Secret,
// no Helm release.
func assertEmptyNamespace(t *testing.T, c client.Client, target release.Target) {
	t.Helper()
	var sts appsv1.StatefulSetList
	var secrets corev1.SecretList
	var cms corev1.ConfigMapList
	for _, l := range []client.ObjectList{&sts, &secrets, &cms} {
		if err := c.List(t.Context(), l, client.InNamespace(target.Namespace)); err != nil {
			t.Fatal(err)
		}
	}
	// kube-root-ca.crt is the only ConfigMap a namespace starts with.
	if len(sts.Items) != 0 || len(secrets.Items) != 0 || len(cms.Items) > 1 {
		t.Fatalf("namespace not empty: %d StatefulSets, %d Secrets, %d ConfigMaps", len(sts.Items), len(secrets.Items), len(cms.Items))
	}
	if rev, err := releasetest.Manager(t, target).Deployed(); err != nil || rev != nil {
		t.Fatalf("a release exists: %v (err %v)", rev, err)
	}
}

func TestInstallEachEnvironment(t *testing.T) {
	for _, name := range environments {
		t.Run(name, func(t *testing.T) {
			p := newPlatform(t, name)
			res := p.deploy(t)
			if !res.Installed || res.Revision != 1 {
				t.Fatalf("installed %v revision %d; want a new release at revision 1", res.Installed, res.Revision)
			}
			p.assertReady(t)
			// helm history sees the release.
			hist, err := p.release.History()
			if err != nil || len(hist) != 1 || hist[0].Status != "deployed" {
				t.Fatalf("history %v (err %v); want one deployed revision", hist, err)
			}
			// The encrypted file round-tripped into Secrets.
			for secret, want := range secretValues {
				var s corev1.Secret
				if err := p.c.Get(t.Context(), types.NamespacedName{Namespace: p.target.Namespace, Name: secret}, &s); err != nil {
					t.Fatal(err)
				}
				if string(s.Data["password"]) != want {
					t.Errorf("Secret %s holds another password", secret)
				}
			}
			// Zero drift right after install.
			report, err := p.release.Drift(t.Context(), p.plan(t))
			if err != nil {
				t.Fatal(err)
			}
			p.record(report)
			if !report.Clean() || report.Checked < 20 {
				t.Fatalf("drift right after install (%d objects checked): %+v", report.Checked, report.Objects)
			}
			p.assertNoSecretValue(t)
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
		var bgds v1alpha1.RolloutList
		if err := p.c.List(ctx, &bgds, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, b := range bgds.Items {
			if b.Status.Phase != v1alpha1.PhaseHealthy && b.Status.Phase != v1alpha1.PhasePaused {
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

func TestUninstallKeepsDataUnlessPurged(t *testing.T) {
	p := newPlatform(t, "development")
	p.deploy(t)
	p.assertReady(t)
	before := p.claims(t)
	kept, err := p.release.Uninstall(t.Context(), p.e.Name, false, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.PersistentVolumeClaims) != 3 || len(kept.Secrets) != 3 {
		t.Fatalf("uninstall reports keeping %v; want 3 claims and 3 Secrets", kept)
	}
	var sts appsv1.StatefulSetList
	if err := p.c.List(t.Context(), &sts, client.InNamespace(p.target.Namespace)); err != nil || len(sts.Items) != 0 {
		t.Fatalf("uninstall left %d StatefulSets (err %v)", len(sts.Items), err)
	}
	if after := p.claims(t); len(after) != 3 {
		t.Fatalf("claims after uninstall: %v; want all 3 kept", after)
	}
	p.deploy(t)
	p.assertReady(t)
	after := p.claims(t)
	for claim, volume := range before {
		if after[claim] != volume {
			t.Errorf("claim %s bound to %q after reinstall; was %q", claim, after[claim], volume)
		}
	}
	for secret := range secretValues {
		var s corev1.Secret
		if err := p.c.Get(t.Context(), types.NamespacedName{Namespace: p.target.Namespace, Name: secret}, &s); err != nil {
			t.Errorf("credentials Secret %s gone: %v", secret, err)
		}
	}

	if _, err := p.release.Uninstall(t.Context(), p.e.Name, true, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	left, err := p.release.Data(t.Context(), p.e.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.PersistentVolumeClaims)+len(left.Secrets) != 0 {
		t.Fatalf("purge left %v", left)
	}
}

// TestDevelopmentGeneratesItsCredentialsOnce: with no secrets file and no
// Secrets in the namespace, development (secrets.generate) installs: each
// credential the chart reads is generated once, at random, never shown
// and never in the release; upgrades, uninstall and reinstall keep the
// values; --purge deletes them.
func TestDevelopmentGeneratesItsCredentialsOnce(t *testing.T) {
	p := newPlatform(t, "development")
	p.e.Secrets.File = "" // environments/ holds no development.secrets.yaml: nothing provided
	ctx := t.Context()
	generated := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for name, key := range secretstest.PlatformSecrets {
			var s corev1.Secret
			if err := p.c.Get(ctx, types.NamespacedName{Namespace: p.target.Namespace, Name: name}, &s); err != nil {
				t.Fatalf("Secret %s: %v", name, err)
			}
			if s.Labels[envconfig.LabelGenerated] != "true" || len(s.Data) != 1 || len(s.Data[key]) != 26 {
				t.Fatalf("Secret %s: labels %v, %d keys, %q of %d bytes; want one generated 26-character %s", name, s.Labels, len(s.Data), key, len(s.Data[key]), key)
			}
			out[name] = string(s.Data[key])
		}
		return out
	}
	p.deploy(t)
	p.assertReady(t)
	first := generated()
	if a, b, c := first["agentic-rag-postgresql"], first["agentic-rag-redis"], first["agentic-rag-chromadb"]; a == b || b == c || a == c {
		t.Fatal("two generated credentials are equal")
	}
	rev, err := p.release.Deployed()
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range first {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(p.out.String(), form) || strings.Contains(rev.Manifest, form) {
				t.Fatalf("the value of %s shows in the output or the release", name)
			}
		}
		if !strings.Contains(p.out.String(), "generated Secret "+p.target.Namespace+"/"+name) {
			t.Errorf("the install does not say it generated %s:\n%s", name, p.out.String())
		}
	}

	p.deploy(t, "api.config.LOG_LEVEL=info")
	if got := generated(); !maps.Equal(got, first) {
		t.Fatal("an upgrade changed a generated credential")
	}
	kept, err := p.release.Uninstall(ctx, p.e.Name, false, 2*time.Minute)
	if err != nil || len(kept.Secrets) != 3 {
		t.Fatalf("uninstall kept %v (err %v); want the 3 generated Secrets", kept, err)
	}
	p.deploy(t)
	p.assertReady(t)
	if got := generated(); !maps.Equal(got, first) {
		t.Fatal("a reinstall changed a generated credential")
	}
	if _, err := p.release.Uninstall(ctx, p.e.Name, true, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if left, err := p.release.Data(ctx, p.e.Name); err != nil || len(left.Secrets) != 0 {
		t.Fatalf("purge left Secrets %v (err %v)", left, err)
	}
}

// A Secret the chart reads a key of must hold that key: checked before any
// write, for a Secret from the environment's secrets file and for one that
// already exists; the error names the Secret and the key, never a value.
func TestSecretWithoutAReadKeyIsRejectedBeforeAnyWrite(t *testing.T) {
	t.Run("secrets file", func(t *testing.T) {
		p := newPlatform(t, "development")
		p.e.Secrets.File = encryptedSecretsWithout(t, "agentic-rag-chromadb", "token")
		_, err := p.release.Upgrade(t.Context(), p.plan(t), release.Options{Timeout: time.Minute})
		if err == nil || !strings.Contains(err.Error(), `agentic-rag-chromadb has no key "token"`) {
			t.Fatalf("install: %v; want the missing key named", err)
		}
		assertEmptyNamespace(t, p.c, p.target)
	})
	t.Run("new namespace", func(t *testing.T) {
		p := newPlatform(t, "development")
		fresh := p.target.Namespace + "-new"
		p.e.Release.Namespace, p.target.Namespace = fresh, fresh
		p.release = releasetest.Manager(t, p.target)
		p.e.Secrets.File, p.e.Secrets.Generate = "", false // as staging and production: nothing generated
		_, err := p.release.Upgrade(t.Context(), p.plan(t), release.Options{Timeout: time.Minute})
		if err == nil || !strings.Contains(err.Error(), "agentic-rag-redis (used by") {
			t.Fatalf("install: %v; want the missing Secrets named", err)
		}
		if err := p.c.Get(t.Context(), types.NamespacedName{Name: fresh}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
			t.Fatalf("the failed secrets check left namespace %s (err %v)", fresh, err)
		}
	})
	t.Run("existing Secret", func(t *testing.T) {
		p := newPlatform(t, "development")
		p.e.Secrets.File = ""
		for name, v := range secretValues {
			data := map[string][]byte{"password": []byte(v), "token": []byte(v)}
			if name == "agentic-rag-redis" {
				data = map[string][]byte{"passwd": []byte(v)}
			}
			if err := p.c.Create(t.Context(), &corev1.Secret{ObjectMeta: metaName(p.target.Namespace, name), Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := p.release.Upgrade(t.Context(), p.plan(t), release.Options{Timeout: time.Minute})
		if err == nil || !strings.Contains(err.Error(), `agentic-rag-redis has no key "password"`) || !strings.Contains(err.Error(), "it has keys passwd") {
			t.Fatalf("install: %v; want the missing key and the keys present named", err)
		}
		p.out.WriteString(err.Error())
		p.assertNoSecretValue(t)
		if rev, err := p.release.Deployed(); err != nil || rev != nil {
			t.Fatalf("a release exists after the rejected install: %v (err %v)", rev, err)
		}
	})
}

// encryptedSecretsWithout is encryptedSecrets with key of secret left out.
func encryptedSecretsWithout(t *testing.T, secret, key string) string {
	return encryptValues(t, secretValues, func(name, k string) bool { return name != secret || k != key })
}

// encryptedSecretsWith is encryptedSecrets with some Secrets' values changed.
func encryptedSecretsWith(t *testing.T, changed map[string]string) string {
	values := maps.Clone(secretValues)
	maps.Copy(values, changed)
	return encryptValues(t, values, func(string, string) bool { return true })
}

// encryptValues writes keys password and token of each Secret (those keep
// allows) encrypted for a new age key and points SOPS_AGE_KEY_FILE at it.
func encryptValues(t *testing.T, values map[string]string, keep func(secret, key string) bool) string {
	t.Helper()
	secrets := map[string]map[string]string{}
	for name, v := range values {
		secrets[name] = map[string]string{}
		for _, k := range []string{"password", "token"} {
			if keep(name, k) {
				secrets[name][k] = v
			}
		}
	}
	return secretstest.Encrypt(t, secrets)
}
