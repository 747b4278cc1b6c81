package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// realNodeSets put the api (and the chart's test pod) on the real node; the
// stateful components stay on kwok nodes (their images cannot be had here),
// so the test does not check them.
var realNodeSets = []string{
	"--set", `api.nodeSelector.ragdeploy\.io/node-type=real`,
	"--set", "api.tolerations[0].key=ragdeploy.io/real-node",
	"--set", "api.tolerations[0].operator=Exists",
	"--set", "tests.dependencies=false",
}

// answer asks the active Service of staging for a page, through the API
// server's service proxy (which reaches it from inside the node's network).
func answer(ctx context.Context, cs kubernetes.Interface) (standin.Answer, error) {
	var a standin.Answer
	body, err := cs.CoreV1().Services("agentic-rag-staging").ProxyGet("http", "agentic-rag-api", "8000", "/v1/ask", nil).DoRaw(ctx)
	if err != nil {
		return a, err
	}
	return a, json.Unmarshal(body, &a)
}

// servedBy waits until the active Service answers with version, then
// checks that the next n answers come from it too.
func servedBy(ctx context.Context, t *testing.T, cs kubernetes.Interface, version string, n int) {
	t.Helper()
	var last standin.Answer
	var lastErr error
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last, lastErr = answer(ctx, cs)
		return lastErr == nil && last.Version == version, nil
	}); err != nil {
		t.Fatalf("the active Service never answered with %s: last %+v, %v", version, last, lastErr)
	}
	for range n {
		a, err := answer(ctx, cs)
		if err != nil || a.Version != version {
			t.Fatalf("the active Service answered %+v, %v; want only %s", a, err, version)
		}
	}
}

// stagingRollout is the staging environment's rollout.
var stagingRollout = types.NamespacedName{Namespace: "agentic-rag-staging", Name: "agentic-rag-api"}

// leader is the pod holding the controller's leader lease.
func leader(ctx context.Context, cs kubernetes.Interface) string {
	l, err := cs.CoordinationV1().Leases("ragdeploy-system").Get(ctx, "ragdeploy-controller", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return pod
}

// TestStagingOnTheRealNode installs the platform's staging environment with
// the api on the real node and the controller running as the chart's two
// pods there: the api's probes are executed by kubelet, its restricted
// security context runs under real runc, traffic through the active
// Service follows each switch, the controller's HTTP checks reach the
// preview Service by its cluster DNS name, the leader's pod is deleted in
// the middle of a rollout and the other replica finishes it, and a version
// whose /health fails never becomes ready nor gets traffic.
func TestStagingOnTheRealNode(t *testing.T) {
	requireRealNodes(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cs, cfg := upRealNodeConfig(t, work, stateDir)
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	kube := []string{"--kubeconfig", filepath.Join(stateDir, "kubeconfig")}

	// The controller chart's replicas run on the real node, one of them leading.
	pods, err := cs.CoreV1().Pods("ragdeploy-system").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("controller pods: %v %v; want the chart's 2", len(pods.Items), err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "real-node-0" || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("controller pod %s on %q, %s; want Running on real-node-0", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}
	var first string
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		first = leader(ctx, cs)
		return first != "", nil
	}); err != nil {
		t.Fatal("no controller replica took the leader lease")
	}

	// Staging's credentials, as existing Secrets (what the environment names).
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "agentic-rag-staging"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secretstest.CreatePlatformSecrets(ctx, t, c, "agentic-rag-staging", "local-credential")
	envDir, err := filepath.Abs("../../environments")
	if err != nil {
		t.Fatal(err)
	}
	install := append([]string{"install", "--env", "staging", "--environments-dir", envDir,
		"--set", "api.blueGreen.autoPromotion.enabled=false"}, append(realNodeSets, kube...)...)
	if res := ragdeploy(t, work, nil, install...); res.code != 0 {
		t.Fatalf("install staging: %s", res.stderr)
	}
	api, err := cs.CoreV1().Pods("agentic-rag-staging").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=api"})
	if err != nil || len(api.Items) != 2 {
		t.Fatalf("api pods: %d %v; want staging's 2", len(api.Items), err)
	}
	for _, p := range api.Items {
		sc := p.Spec.Containers[0].SecurityContext
		if p.Spec.NodeName != "real-node-0" || p.Status.Phase != corev1.PodRunning || sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Fatalf("api pod %s: node %q, %s, security context %+v; want the chart's restricted context running on real-node-0", p.Name, p.Spec.NodeName, p.Status.Phase, sc)
		}
	}
	servedBy(ctx, t, cs, "1.0.0", 10)

	// 1.1.0 waits for promotion (its preview check passed, through cluster
	// DNS from the controller's pod). The leader is deleted now.
	if res := ragdeploy(t, work, nil, append([]string{"rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:1.1.0", "-n", "agentic-rag-staging"}, kube...)...); res.code != 0 {
		t.Fatalf("set-image: %s", res.stderr)
	}
	watchRollout(ctx, t, c, stagingRollout, "paused for promotion", func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused })
	if err := cs.CoreV1().Pods("ragdeploy-system").Delete(ctx, first, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var next string
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		next = leader(ctx, cs)
		return next != "" && next != first, nil
	}); err != nil {
		t.Fatalf("no other replica took over from %s", first)
	}
	servedBy(ctx, t, cs, "1.0.0", 5)
	if res := ragdeploy(t, work, nil, append([]string{"rollout", "promote", "agentic-rag-api", "-n", "agentic-rag-staging"}, kube...)...); res.code != 0 {
		t.Fatalf("promote: %s", res.stderr)
	}
	watchRollout(ctx, t, c, stagingRollout, "healthy on 1.1.0", func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == b.Status.CurrentRevision &&
			b.Spec.Template.Spec.Containers[0].Image == "agentic-rag/api:1.1.0"
	})
	servedBy(ctx, t, cs, "1.1.0", 10)
	t.Logf("leader %s deleted mid-rollout; %s took over and finished it", first, next)

	// A version whose /health fails: kubelet's probe keeps it unready, so it
	// never gets traffic.
	if res := ragdeploy(t, work, nil, append([]string{"rollout", "set-image", "agentic-rag-api", "api=agentic-rag/api:1.2.0-broken", "-n", "agentic-rag-staging"}, kube...)...); res.code != 0 {
		t.Fatalf("set-image: %s", res.stderr)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		events, err := cs.CoreV1().Events("agentic-rag-staging").List(ctx, metav1.ListOptions{FieldSelector: "reason=Unhealthy"})
		if err != nil {
			return false, nil
		}
		for _, e := range events.Items {
			if e.Source.Component == "kubelet" && strings.Contains(e.Message, "probe failed") {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal("kubelet never reported a failed probe for the broken version")
	}
	servedBy(ctx, t, cs, "1.1.0", 20)
	broken, err := cs.CoreV1().Pods("agentic-rag-staging").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=api"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range broken.Items {
		if p.Spec.Containers[0].Image == "agentic-rag/api:1.2.0-broken" {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					t.Fatalf("broken pod %s is Ready", p.Name)
				}
			}
		}
	}
	if res := ragdeploy(t, work, nil, append([]string{"rollout", "abort", "agentic-rag-api", "-n", "agentic-rag-staging"}, kube...)...); res.code != 0 {
		t.Fatalf("abort: %s", res.stderr)
	}
	watchRollout(ctx, t, c, stagingRollout, "aborted", func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhaseAborted })
	servedBy(ctx, t, cs, "1.1.0", 10)

	// helm test: the chart's test pod (busybox: sh, wget) runs on the real
	// node and gets an answer from the api's Service.
	if res := ragdeploy(t, work, nil, append([]string{"test", "--env", "staging", "--environments-dir", envDir}, kube...)...); res.code != 0 {
		t.Fatalf("ragdeploy test: %s", res.stderr)
	}
	events, err := cs.CoreV1().Events("agentic-rag-staging").List(ctx, metav1.ListOptions{FieldSelector: "reason=Scheduled"})
	if err != nil {
		t.Fatal(err)
	}
	ranOnRealNode := false
	for _, e := range events.Items {
		if strings.HasPrefix(e.InvolvedObject.Name, "agentic-rag-test-") && strings.HasSuffix(e.Message, "to real-node-0") {
			ranOnRealNode = true
		}
	}
	if !ranOnRealNode {
		t.Fatal("the chart's test pod was not scheduled on the real node")
	}
}
