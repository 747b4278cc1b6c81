package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// tripwire is a TCP listener standing in for an API server: any connection
// to it means a command talked to the cluster.
func tripwire(t *testing.T) (kubeconfig string, hits *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	hits = &atomic.Int32{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			_ = conn.Close()
		}
	}()
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, ln.Addr())
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, hits
}

// TestInvalidEnvironmentsTouchNoCluster runs install with each invalid
// environment file against a tripwire API server: every one must be
// rejected, naming the file and the field, before any connection is made.
func TestInvalidEnvironmentsTouchNoCluster(t *testing.T) {
	kubeconfig, hits := tripwire(t)
	files, err := filepath.Glob("../../internal/envconfig/testdata/invalid/*.yaml")
	if err != nil || len(files) < 15 {
		t.Fatalf("%d invalid environment files (err %v)", len(files), err)
	}
	for _, file := range files {
		abs, _ := filepath.Abs(file)
		data, err := os.ReadFile(file) //nolint:gosec // G304: test fixture path
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(string(data), "\n")
		paths := strings.Fields(strings.TrimPrefix(header, "# want: "))
		for _, verb := range []string{"install", "upgrade", "diff", "drift"} {
			res := ragdeploy(t, t.TempDir(), nil, verb, "--env", abs, "--kubeconfig", kubeconfig)
			if res.code != 1 {
				t.Errorf("%s %s: exit %d; want 1", verb, file, res.code)
			}
			for _, p := range paths {
				if !strings.Contains(res.stderr, abs+": "+p) {
					t.Errorf("%s %s: error does not name %s:\n%s", verb, file, p, res.stderr)
				}
			}
		}
	}
	// Bad --set values are also caught first.
	res := ragdeploy(t, "../..", nil, "install", "--env", "production", "--set", "api.autoscaling.minReplicas=1", "--kubeconfig", kubeconfig)
	if res.code != 1 || !strings.Contains(res.stderr, "values.api.autoscaling.minReplicas") {
		t.Errorf("--set api.autoscaling.minReplicas=1 on production: exit %d\n%s", res.code, res.stderr)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d connections reached the API server before validation finished", n)
	}
}

// envWorld is a local cluster with the CRDs, a controller, and a copy of
// the environments whose development secrets are encrypted for a fresh age
// key.
type envWorld struct {
	cluster *localcluster.Cluster
	c       client.Client
	dir     string
	env     []string // SOPS_AGE_KEY_FILE
	// out collects every command's output.
	out strings.Builder
}

var e2eSecrets = secretstest.Values("e2e")

func newEnvWorld(t *testing.T) *envWorld {
	t.Helper()
	cluster, c := startCluster(t)
	w := &envWorld{cluster: cluster, c: c, dir: t.TempDir()}
	if err := os.CopyFS(filepath.Join(w.dir, "environments"), os.DirFS("../../environments")); err != nil {
		t.Fatal(err)
	}
	recipient, key := secretstest.Identity(t, w.dir)
	w.env = []string{"SOPS_AGE_KEY_FILE=" + key}
	plain := "secrets:\n"
	for name, v := range e2eSecrets {
		plain += fmt.Sprintf("  %s:\n    password: %s\n    token: %s\n", name, v, v)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "plain.yaml"), []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "secrets", "encrypt", "--age-recipient", recipient, "-f", "plain.yaml", "--output-file", "environments/development.secrets.yaml")
	if res.code != 0 {
		t.Fatal("secrets encrypt failed")
	}
	if err := os.Remove(filepath.Join(w.dir, "plain.yaml")); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *envWorld) run(t *testing.T, args ...string) result {
	t.Helper()
	return w.runEnv(t, w.env, args...)
}

func (w *envWorld) runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	if w.cluster != nil && args[0] != "secrets" && args[0] != "render" && args[0] != "validate" {
		args = append(args, "--kubeconfig", w.cluster.Kubeconfig)
	}
	res := ragdeploy(t, w.dir, env, args...)
	w.out.WriteString(res.stdout + res.stderr)
	return res
}

func (w *envWorld) want(t *testing.T, res result, code int, contains ...string) {
	t.Helper()
	if res.code != code {
		t.Fatalf("exit %d; want %d\n%s%s", res.code, code, res.stdout, res.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(res.stdout+res.stderr, s) {
			t.Fatalf("output lacks %q:\n%s%s", s, res.stdout, res.stderr)
		}
	}
}

func TestEnvironmentLifecycle(t *testing.T) {
	w := newEnvWorld(t)
	ctx := t.Context()
	const ns = "agentic-rag-dev"
	enc, err := os.ReadFile(filepath.Join(w.dir, "environments", "development.secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w.out.Write(enc)

	if res := w.run(t, "secrets", "list", "--env", "development"); res.code != 0 ||
		!regexp.MustCompile(`(?m)^agentic-rag-redis +password +secrets file +StatefulSet agentic-rag-redis +<redacted sha256:[0-9a-f]{12}>$`).MatchString(res.stdout) {
		t.Fatalf("secrets list: exit %d; want redis's password from the file, with its fingerprint:\n%s%s", res.code, res.stdout, res.stderr)
	}
	_, otherKey := secretstest.Identity(t, t.TempDir())
	w.want(t, w.runEnv(t, []string{"SOPS_AGE_KEY_FILE=" + otherKey}, "install", "--env", "development"), 1,
		"no age identity in "+otherKey+" can decrypt", "development.secrets.yaml, which is encrypted for age1", "SOPS_AGE_KEY_FILE")
	w.want(t, w.run(t, "render", "--env", "development"), 0, "kind: Secret", "<redacted sha256:")
	// -o is a format, as everywhere; the directory is --output-dir.
	rendered := w.run(t, "render", "--env", "development", "-o", "json")
	var list struct {
		Kind  string                              `json:"kind"`
		Items []struct{ Kind, APIVersion string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(rendered.stdout), &list); rendered.code != 0 || err != nil || list.Kind != "List" || len(list.Items) == 0 {
		t.Errorf("render -o json: exit %d, %v, kind %q, %d items", rendered.code, err, list.Kind, len(list.Items))
	}
	dir := t.TempDir()
	w.want(t, w.run(t, "render", "--env", "development", "--output-dir", dir), 0, fmt.Sprintf("wrote %d objects to %s", len(list.Items), dir))
	if files, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(files) != len(list.Items) {
		t.Errorf("render --output-dir wrote %d files; want %d", len(files), len(list.Items))
	}
	w.want(t, w.run(t, "render", "--env", "development", "-o", dir), 1, "is not one of yaml, json")

	if err := w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}); err != nil {
		t.Fatal(err)
	}
	diff := w.run(t, "diff", "--env", "development")
	w.want(t, diff, 2, "+ ConfigMap agentic-rag-dev/agentic-rag-api (will be created)")
	if !strings.Contains(diff.stderr, "objects would change") || strings.Contains(diff.stderr, "Error") {
		t.Errorf("diff's finding on stderr: %q; want it said as a result, not an Error", diff.stderr)
	}
	w.want(t, w.run(t, "install", "--env", "development", "--dry-run=server"), 0, "nothing was changed")
	w.want(t, w.run(t, "upgrade", "--env", "development"), 1, "is not installed")
	w.want(t, w.run(t, "install", "--env", "development", "--timeout", "2m"), 0, "all 2", "release agentic-rag-dev/agentic-rag revision 1 ready")
	w.want(t, w.run(t, "install", "--env", "development"), 1, "already installed")
	w.want(t, w.run(t, "test", "--env", "development", "--timeout", "1m"), 0, "tests of agentic-rag-dev/agentic-rag passed")
	w.want(t, w.run(t, "diff", "--env", "development"), 0, "no changes")
	w.want(t, w.run(t, "drift", "--env", "development"), 0, "no drift")

	// A hand edit is drift, reported as JSON with its path, then fixed.
	var cm corev1.ConfigMap
	if err := w.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "trace"
	if err := w.c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "drift", "--env", "development", "-o", "json")
	w.want(t, res, 2)
	report := parseDrift(t, res.stdout)
	if len(report.Drifted) != 1 || report.Drifted[0].Changes[0].Path != "/data/LOG_LEVEL" {
		t.Fatalf("drift report %+v; want the ConfigMap at /data/LOG_LEVEL", report)
	}
	w.watchDrift(t, ns)
	w.want(t, w.run(t, "drift", "--env", "development", "--fix"), 0, "re-applied 1 drifted objects", "no drift")

	// An upgrade reports what it changes.
	w.want(t, w.run(t, "upgrade", "--env", "development", "--set", "api.config.LOG_LEVEL=warn"), 0,
		"~ ConfigMap agentic-rag-dev/agentic-rag-api (changes)", `/data/LOG_LEVEL: "debug" -> "warn"`, "revision 2 ready")

	// Purging needs the namespace typed back; a wrong answer deletes nothing.
	w.want(t, w.run(t, "uninstall", "--env", "development", "--purge-data", "--confirm", "agentic-rag"), 1, "nothing was deleted")
	w.want(t, w.run(t, "drift", "--env", "development"), 0, "no drift")
	w.want(t, w.run(t, "uninstall", "--env", "development"), 0, "kept 3 PersistentVolumeClaims")
	var pvcs corev1.PersistentVolumeClaimList
	if err := w.c.List(ctx, &pvcs, client.InNamespace(ns)); err != nil || len(pvcs.Items) != 3 {
		t.Fatalf("%d claims after uninstall (err %v); want 3", len(pvcs.Items), err)
	}
	// Commands that need the release say it is not installed, in our words;
	// a purge still deletes the data the uninstall kept.
	for _, verb := range []string{"uninstall", "history", "rollback", "drift", "upgrade"} {
		w.want(t, w.run(t, verb, "--env", "development"), 1, "Error: release "+ns+"/agentic-rag is not installed (hint: ragdeploy install --env development)")
	}
	w.want(t, w.run(t, "uninstall", "--env", "development", "--purge-data", "--confirm", ns), 0,
		ns+"/agentic-rag was not installed; deleted the 3 PersistentVolumeClaims and 3 Secrets it had kept")
	if err := w.c.List(ctx, &pvcs, client.InNamespace(ns)); err != nil || len(pvcs.Items) != 0 {
		t.Fatalf("%d claims after the purge (err %v); want none", len(pvcs.Items), err)
	}

	for _, v := range e2eSecrets {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(w.out.String(), form) {
				t.Fatal("a command printed a secret value")
			}
		}
	}
}

// watchDrift runs `drift --watch` with metrics while the ConfigMap is
// drifted: the gauge reports one object and a Warning Event names the field.
func (w *envWorld) watchDrift(t *testing.T, ns string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(binary, "drift", "--env", "development", "--watch", "1s", "--metrics-addr", addr, "--kubeconfig", w.cluster.Kubeconfig) //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
	cmd.Dir, cmd.Env = w.dir, append(os.Environ(), w.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		w.out.WriteString(out.String())
		t.Logf("drift --watch output:\n%s", out.String())
	}()
	clustertest.Eventually(t, 30*time.Second, "drift gauge and event", func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(body), `ragdeploy_drift_objects{namespace="`+ns+`",release="agentic-rag"} 1`) {
			return false, nil
		}
		var events corev1.EventList
		if err := w.c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "DriftDetected" && e.InvolvedObject.Name == "agentic-rag-api" && strings.Contains(e.Message, "/data/LOG_LEVEL") {
				return true, nil
			}
		}
		return false, nil
	})
}

// The imperative paths that change what runs follow the environment's
// policy and refuse malformed images before writing anything; set-image
// changes the image only, so drift then reports that one field.
func TestImperativePathsFollowThePolicy(t *testing.T) {
	w := newEnvWorld(t)
	startController(t, w.cluster.Kubeconfig)
	ctx := t.Context()
	const ns = "agentic-rag"
	if err := w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}); err != nil {
		t.Fatal(err)
	}
	for name, v := range e2eSecrets {
		if err := w.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"password": v, "token": v}}); err != nil {
			t.Fatal(err)
		}
	}
	w.want(t, w.run(t, "install", "--env", "production", "--timeout", "2m"), 0, "revision 1 ready")
	rollout := func() *v1alpha1.Rollout {
		var b v1alpha1.Rollout
		if err := w.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &b); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	gen := rollout().Generation

	w.want(t, w.run(t, "rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:latest", "-n", ns), 1,
		"policy production", "untagged and :latest images are not allowed")
	w.want(t, w.run(t, "rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:latest", "-n", ns, "--env", "production"), 1,
		"policy production", "untagged and :latest images are not allowed")
	w.want(t, w.run(t, "rollout", "set-image", "api=agentic-rag/api:latest", "--env", "production"), 1,
		"policy production", "untagged and :latest images are not allowed")
	w.want(t, w.run(t, "rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:2.0.0", "-n", ns, "--env", "staging"), 1,
		"--namespace agentic-rag, but --env staging deploys to namespace agentic-rag-staging")
	w.want(t, w.run(t, "rollout", "set-image", "api=agentic-rag/api:2.0.0", "--env", "staging"), 1,
		"release agentic-rag-staging/agentic-rag of --env staging has no rollout")
	w.want(t, w.run(t, "rollout", "set-image", "--env", "production"), 1, "name at least one CONTAINER=IMAGE")
	w.want(t, w.run(t, "rollout", "status"), 1, "name a rollout, or pass --env")
	// Away from the environment files, the policy the release was deployed
	// under (stored next to it) still applies.
	away := ragdeploy(t, t.TempDir(), nil, "rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:latest", "-n", ns, "--kubeconfig", w.cluster.Kubeconfig)
	w.want(t, away, 1, "release agentic-rag/agentic-rag", "policy production", "untagged and :latest images are not allowed")
	w.want(t, w.run(t, "rollout", "set-image", "agentic-rag-api", "api=Not A Valid::Image", "-n", ns), 1, "is not an image reference")
	w.want(t, w.run(t, "pipeline", "deploy", "--env", "production", "--image-tag", "bad tag"), 1, `--image-tag "bad tag" is not an image tag`)
	w.want(t, w.run(t, "upgrade", "--env", "production", "--set", "api.image.tag=bad tag"), 1, "is not an image reference")
	if g := rollout().Generation; g != gen {
		t.Fatalf("a refused command changed the rollout (generation %d -> %d)", gen, g)
	}

	// --env names the release's rollout and its namespace.
	w.want(t, w.run(t, "rollout", "status", "--env", "production"), 0, "agentic-rag-api", "Phase:      Healthy")
	w.want(t, w.run(t, "rollout", "list", "-n", ns), 0, "NAME", "agentic-rag-api", "Healthy")
	// Shell completion asks the cluster for rollout names and namespaces.
	kc := []string{"__complete", "rollout", "status", "--kubeconfig", w.cluster.Kubeconfig, "-n"}
	w.want(t, ragdeploy(t, w.dir, w.env, append(kc, ns, "")...), 0, "agentic-rag-api\n:4")
	w.want(t, ragdeploy(t, w.dir, w.env, append(kc, "")...), 0, ns+"\n", "kube-system\n")
	res := w.run(t, "rollout", "list", "-A", "-o", "json")
	w.want(t, res, 0)
	var listed []struct{ Name, Namespace, Phase string }
	if err := json.Unmarshal([]byte(res.stdout), &listed); err != nil || len(listed) != 1 || listed[0].Name != "agentic-rag-api" || listed[0].Namespace != ns || listed[0].Phase != "Healthy" {
		t.Fatalf("rollout list -A -o json: %v: %q", err, res.stdout)
	}
	w.want(t, w.run(t, "rollout", "set-image", "api=agentic-rag/api:1.1.0", "--env", "production"), 0, "agentic-rag-api: rolling out revision")
	res = w.run(t, "drift", "--env", "production", "-o", "json")
	w.want(t, res, 2)
	report := parseDrift(t, res.stdout)
	if len(report.Drifted) != 1 || len(report.Drifted[0].Changes) != 1 || report.Drifted[0].Changes[0].Path != "/spec/template/spec/containers/0/image" {
		t.Fatalf("drift after set-image: %+v; want only the Rollout's image", report)
	}
}

// Malformed --set arguments fail naming the argument, with nothing but the
// error on stderr (no Go type errors, no library log lines).
func TestSetErrorsAreClear(t *testing.T) {
	logLine := regexp.MustCompile(`(?m)^\d{4}/\d{2}/\d{2} |time=|level=`)
	for _, set := range []string{"api..replicas=2", "=foo", "api.replicas[0]=1", "api.config=x"} {
		res := ragdeploy(t, "../..", nil, "validate", "--env", "development", "--set", set)
		if res.code != 1 || !strings.HasPrefix(res.stderr, "Error: ") || strings.Contains(res.stderr, "interface") || logLine.MatchString(res.stderr) {
			t.Errorf("--set %q: exit %d, stderr %q; want exit 1 and one clear error", set, res.code, res.stderr)
		}
		if !strings.Contains(res.stderr, set) && !strings.Contains(res.stderr, "values.api.config") {
			t.Errorf("--set %q: the error names neither the argument nor the field: %q", set, res.stderr)
		}
	}
}

// driftJSON is what `drift -o json` prints, as far as the tests read it.
type driftJSON struct {
	Drifted []struct {
		Object  string `json:"object"`
		Changes []struct {
			Path string `json:"path"`
		} `json:"changes"`
	} `json:"drifted"`
}

func parseDrift(t *testing.T, out string) driftJSON {
	t.Helper()
	var report driftJSON
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("drift -o json: %v\n%s", err, out)
	}
	return report
}

// TestDevelopmentInstallsWithNoSetUp is the README's first hour after
// `make demo`: from a copy of the repository's environments and nothing
// else, `local up` then `install --env development` installs; its three
// credentials are generated (and named, never shown); `upgrade`,
// `rollback` and `uninstall` keep them.
func TestDevelopmentInstallsWithNoSetUp(t *testing.T) {
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "environments"), os.DirFS("../../environments")); err != nil {
		t.Fatal(err)
	}
	if res := ragdeploy(t, work, nil, "local", "up"); res.code != 0 {
		t.Fatalf("local up: %s", res.stderr)
	}
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down") })
	kube := []string{"--kubeconfig", filepath.Join(work, ".ragdeploy", "local", "kubeconfig")}
	// -o json: the result alone on stdout, the account on stderr.
	install := ragdeploy(t, work, nil, append([]string{"install", "--env", "development", "-o", "json"}, kube...)...)
	if install.code != 0 {
		t.Fatalf("install --env development on a fresh local cluster: exit %d: %s", install.code, install.stderr)
	}
	var installed struct {
		Release   string `json:"release"`
		Revision  int    `json:"revision"`
		Installed bool   `json:"installed"`
		Changes   struct {
			Objects []struct{ Kind, Object, State string } `json:"objects"`
			Removed []string                               `json:"removed"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(install.stdout), &installed); err != nil || installed.Revision != 1 || !installed.Installed || len(installed.Changes.Objects) == 0 || installed.Changes.Removed == nil {
		t.Errorf("install -o json: %v: %+v", err, installed)
	}
	for name := range secretstest.PlatformSecrets {
		if !strings.Contains(install.stderr, "generated Secret agentic-rag-dev/"+name) {
			t.Errorf("install does not say it generated %s:\n%s", name, install.stderr)
		}
	}
	diff := ragdeploy(t, work, nil, append([]string{"diff", "--env", "development", "-o", "json"}, kube...)...)
	if diff.code != 0 || !strings.Contains(diff.stdout, `"objects": []`) || !strings.Contains(diff.stdout, `"removed": []`) {
		t.Errorf("diff -o json right after install: exit %d: %s%s", diff.code, diff.stdout, diff.stderr)
	}
	if res := ragdeploy(t, work, nil, append([]string{"upgrade", "--env", "development", "--set", "api.config.LOG_LEVEL=info"}, kube...)...); res.code != 0 || strings.Contains(res.stdout, "generated Secret") {
		t.Fatalf("upgrade: exit %d, generated again: %t: %s", res.code, strings.Contains(res.stdout, "generated Secret"), res.stderr)
	}
	// The release verbs, as helm's: status, history, list.
	status := ragdeploy(t, work, nil, append([]string{"status", "--env", "development"}, kube...)...)
	if status.code != 0 || !strings.Contains(status.stdout, "Status:    revision 2 deployed") || !strings.Contains(status.stdout, "Drift:     none (") {
		t.Errorf("status --env development: exit %d:\n%s%s", status.code, status.stdout, status.stderr)
	}
	history := ragdeploy(t, work, nil, append([]string{"history", "--env", "development", "-o", "json"}, kube...)...)
	if history.code != 0 || !strings.Contains(history.stdout, `"revision": 1`) || !strings.Contains(history.stdout, `"revision": 2`) {
		t.Errorf("history --env development: exit %d:\n%s%s", history.code, history.stdout, history.stderr)
	}
	// rollback: revision 1's chart and values as revision 3, through the
	// upgrade path; the live objects then match the file without the --set.
	back := ragdeploy(t, work, nil, append([]string{"rollback", "--env", "development"}, kube...)...)
	if back.code != 0 || !strings.Contains(back.stdout, "rollback to revision 1 of agentic-rag-dev/agentic-rag") ||
		!strings.Contains(back.stdout, `"info" -> `) || !strings.Contains(back.stdout, "revision 3 ready") {
		t.Errorf("rollback --env development: exit %d:\n%s%s", back.code, back.stdout, back.stderr)
	}
	if diff := ragdeploy(t, work, nil, append([]string{"diff", "--env", "development"}, kube...)...); diff.code != 0 {
		t.Errorf("diff after the rollback to revision 1: exit %d; want no change:\n%s%s", diff.code, diff.stdout, diff.stderr)
	}
	history = ragdeploy(t, work, nil, append([]string{"history", "--env", "development"}, kube...)...)
	if !regexp.MustCompile(`3\s+deployed\s+Rollback to 1`).MatchString(history.stdout) {
		t.Errorf("history after the rollback:\n%s%s", history.stdout, history.stderr)
	}
	for arg, msg := range map[string]string{
		"9": "has no revision 9 (revisions: [1 2 3]", "3": "revision 3 is the one deployed", "x": `REVISION "x": want a revision number`,
	} {
		if res := ragdeploy(t, work, nil, append([]string{"rollback", "--env", "development", arg}, kube...)...); res.code != 1 || !strings.Contains(res.stderr, msg) {
			t.Errorf("rollback %s: exit %d, want 1 saying %q: %s", arg, res.code, msg, res.stderr)
		}
	}
	list := ragdeploy(t, work, nil, append([]string{"list"}, kube...)...)
	if list.code != 0 || !regexp.MustCompile(`development\s+agentic-rag-dev\s+agentic-rag\s+3\s+deployed`).MatchString(list.stdout) ||
		!regexp.MustCompile(`staging\s+agentic-rag-staging\s+agentic-rag\s+-\s+not installed`).MatchString(list.stdout) {
		t.Errorf("list: exit %d:\n%s%s", list.code, list.stdout, list.stderr)
	}
	un := ragdeploy(t, work, nil, append([]string{"uninstall", "--env", "development", "-o", "json"}, kube...)...)
	var kept struct {
		Purged  bool     `json:"purged"`
		Secrets []string `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(un.stdout), &kept); un.code != 0 || err != nil || kept.Purged || len(kept.Secrets) != len(secretstest.PlatformSecrets) {
		t.Fatalf("uninstall -o json: exit %d, %v: %s%s; want the 3 generated Secrets kept", un.code, err, un.stdout, un.stderr)
	}
}
