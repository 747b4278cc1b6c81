package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// rolloutWorld is a local cluster with the CRDs, a `ragdeploy controller`
// process, and the api Services in namespace "shop".
type rolloutWorld struct {
	cluster *localcluster.Cluster
	c       client.Client
	args    []string // --kubeconfig and --namespace for every command
}

func newRolloutWorld(t *testing.T) *rolloutWorld {
	t.Helper()
	cluster, c := startCluster(t)
	w := &rolloutWorld{cluster: cluster, c: c, args: []string{"--kubeconfig", cluster.Kubeconfig, "--namespace", "shop"}}
	ctx := t.Context()
	shopServices(ctx, t, c)
	startController(t, cluster.Kubeconfig)
	return w
}

// shopServices creates namespace "shop" with the api's active and preview
// Services (port 8000, selecting app=api).
func shopServices(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "api-preview"} {
		if err := c.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"},
				Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// startController runs `ragdeploy controller` against the cluster until the
// test ends.
func startController(t *testing.T, kubeconfig string) {
	t.Helper()
	ctrlCmd := exec.Command(binary, "controller", "--kubeconfig", kubeconfig, //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0")
	ctrlCmd.Stdout, ctrlCmd.Stderr = os.Stderr, os.Stderr
	ctrlCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ctrlCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctrlCmd.Process.Signal(syscall.SIGTERM); _ = ctrlCmd.Wait() })
}

func (w *rolloutWorld) run(t *testing.T, args ...string) result {
	t.Helper()
	return ragdeploy(t, t.TempDir(), nil, append(args, w.args...)...)
}

func (w *rolloutWorld) get(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	var b v1alpha1.Rollout
	if err := w.c.Get(context.Background(), types.NamespacedName{Namespace: "shop", Name: "api"}, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestRolloutCommands(t *testing.T) {
	w := newRolloutWorld(t)
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.RolloutSpec{
			Replicas:       new(int32(2)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			ActiveService:  "api",
			PreviewService: "api-preview",
			Strategy:       v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ScaleDownDelaySeconds: new(int32(60))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "agentic-rag/api:1.0.0"}}},
			},
		},
	}
	if err := w.c.Create(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if r := w.run(t, "rollout", "status", "api", "--watch", "--timeout", "60s"); r.code != 0 || !strings.Contains(r.stdout, "Phase:      Healthy") {
		t.Fatalf("status --watch of the first revision: exit %d", r.code)
	}
	v1 := w.get(t).Status.StableRevision

	// Bad input changes nothing.
	if r := w.run(t, "rollout", "set-image", "api", "worker=x:1"); r.code != 1 || !strings.Contains(r.stderr, `container "worker" not in api (containers: api)`) {
		t.Fatalf("set-image of an unknown container: exit %d, %q", r.code, r.stderr)
	}
	if r := w.run(t, "rollout", "set-image", "api", "api=Not A Valid::Image"); r.code != 1 || !strings.Contains(r.stderr, "is not an image reference") {
		t.Fatalf("set-image of a malformed image: exit %d, %q", r.code, r.stderr)
	}
	if r := w.run(t, "rollout", "promote", "api"); r.code != 1 || !strings.Contains(r.stderr, "nothing to promote") {
		t.Fatalf("promote with nothing to promote: exit %d, %q", r.code, r.stderr)
	}
	if r := w.run(t, "rollout", "status", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "rollout shop/nosuch not found") {
		t.Fatalf("status of a missing rollout: exit %d, %q", r.code, r.stderr)
	}
	if w.get(t).Generation != 1 {
		t.Fatal("rejected commands changed the Rollout")
	}

	// A manual rollout: in progress until promoted.
	if r := w.run(t, "rollout", "set-image", "api", "api=agentic-rag/api:2.0.0"); r.code != 0 {
		t.Fatalf("set-image: exit %d", r.code)
	}
	waitPhase(t, w, v1alpha1.PhasePaused)
	if r := w.run(t, "rollout", "status", "api"); r.code != 3 || !strings.Contains(r.stdout, "rollout promote") {
		t.Fatalf("status of a paused rollout: exit %d; want 3 and a hint to promote\n%s", r.code, r.stdout)
	}
	if r := w.run(t, "rollout", "promote", "api"); r.code != 0 {
		t.Fatalf("promote: exit %d", r.code)
	}
	if r := w.run(t, "rollout", "status", "api", "-w", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("status --watch after promote: exit %d", r.code)
	}
	v2 := w.get(t).Status.StableRevision
	if v2 == v1 {
		t.Fatal("promote did not change the stable revision")
	}
	h := w.run(t, "rollout", "history", "api")
	if !strings.Contains(h.stdout, v1) || !strings.Contains(h.stdout, v2) || !strings.Contains(h.stdout, "agentic-rag/api:2.0.0") {
		t.Fatalf("history does not list both revisions:\n%s", h.stdout)
	}

	// Abort fails the gate; retry continues; undo returns to v1 at once.
	w.run(t, "rollout", "set-image", "api", "api=agentic-rag/api:3.0.0")
	waitPhase(t, w, v1alpha1.PhasePaused)
	if r := w.run(t, "rollout", "abort", "api"); r.code != 0 {
		t.Fatalf("abort: exit %d", r.code)
	}
	if r := w.run(t, "rollout", "status", "api", "--watch", "--timeout", "30s"); r.code != 2 || !strings.Contains(r.stderr, "aborted") {
		t.Fatalf("status --watch of an aborted rollout: exit %d; want 2", r.code)
	}
	// No-ops answer alike: an error saying there is nothing to do.
	if r := w.run(t, "rollout", "abort", "api"); r.code != 1 || !strings.Contains(r.stderr, "nothing to abort") {
		t.Fatalf("abort of an aborted rollout: exit %d, %q; want 1 and nothing to abort", r.code, r.stderr)
	}
	if r := w.run(t, "rollout", "retry", "api"); r.code != 0 {
		t.Fatalf("retry: exit %d", r.code)
	}
	waitPhase(t, w, v1alpha1.PhasePaused)
	w.run(t, "rollout", "promote", "api")
	if r := w.run(t, "rollout", "status", "api", "-w", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("status after promoting v3: exit %d", r.code)
	}
	// v2 is still warm on the other color: undo is an instant switch back.
	if r := w.run(t, "rollout", "undo", "api"); r.code != 0 || !strings.Contains(r.stdout, "rolling back to revision "+v2) {
		t.Fatalf("undo: exit %d, %q; want a rollback to %s", r.code, r.stdout, v2)
	}
	if r := w.run(t, "rollout", "status", "api", "-w", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("status after undo: exit %d", r.code)
	}
	if got := w.get(t).Status.StableRevision; got != v2 {
		t.Fatalf("stable %s after undo; want %s", got, v2)
	}
	// An explicit older revision (no longer warm) is a normal rollout.
	if r := w.run(t, "rollout", "undo", "api", "--to-revision", v1); r.code != 0 {
		t.Fatalf("undo --to-revision: exit %d", r.code)
	}
	waitPhase(t, w, v1alpha1.PhasePaused)
	w.run(t, "rollout", "promote", "api")
	if r := w.run(t, "rollout", "status", "api", "-w", "--timeout", "60s"); r.code != 0 {
		t.Fatalf("status after undo to v1: exit %d", r.code)
	}
	if got := w.get(t).Status.StableRevision; got != v1 {
		t.Fatalf("stable %s after undo --to-revision; want %s", got, v1)
	}
	if r := w.run(t, "rollout", "undo", "api", "--to-revision", "0000000000"); r.code != 1 || !strings.Contains(r.stderr, "shop/api has no revision 0000000000; known revisions") || strings.Contains(r.stderr, "controllerrevisions") {
		t.Fatalf("undo to an unknown revision: exit %d, %q", r.code, r.stderr)
	}
	if r := w.run(t, "rollout", "status", "api", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"stableRevision": "`+v1+`"`) {
		t.Fatalf("status -o json: exit %d", r.code)
	}
}

func waitPhase(t *testing.T, w *rolloutWorld, phase v1alpha1.Phase) {
	t.Helper()
	clustertest.Eventually(t, 60*time.Second, "phase "+string(phase), func(context.Context) (bool, error) {
		if b := w.get(t); b.Status.Phase != phase || b.Status.ObservedGeneration != b.Generation {
			return false, fmt.Errorf("status %+v", b.Status)
		}
		return true, nil
	})
}

// States that cannot progress end `rollout status --watch` at once with
// exit 2 and the reason, instead of waiting for the timeout.
func TestRolloutStatusEndsOnStatesThatCannotProgress(t *testing.T) {
	w := newRolloutWorld(t)
	for _, tt := range []struct {
		name   string
		mutate func(*v1alpha1.Rollout)
		reason string
	}{
		{"mismatched", func(b *v1alpha1.Rollout) { b.Spec.Template.Labels = map[string]string{"app": "other"} }, v1alpha1.ReasonInvalidSpec},
		{"lonely", func(b *v1alpha1.Rollout) { b.Spec.ActiveService = "nosuch" }, v1alpha1.ReasonServiceMissing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &v1alpha1.Rollout{
				ObjectMeta: metav1.ObjectMeta{Name: tt.name, Namespace: "shop"},
				Spec: v1alpha1.RolloutSpec{
					Selector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
					ActiveService: "api",
					Strategy:      v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "agentic-rag/api:1.0.0"}}},
					},
				},
			}
			tt.mutate(b)
			if err := w.c.Create(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			r := w.run(t, "rollout", "status", tt.name, "--watch", "--timeout", "2m")
			if r.code != 2 || !strings.Contains(r.stderr, "degraded ("+tt.reason+")") {
				t.Fatalf("status --watch: exit %d, %q; want 2 naming %s", r.code, r.stderr, tt.reason)
			}
			if !strings.Contains(r.stdout, "Phase:      Degraded") {
				t.Fatalf("the phase does not say Degraded:\n%s", r.stdout)
			}
		})
	}
}
