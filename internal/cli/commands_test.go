package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

func TestMain(m *testing.M) {
	release.UseHelmFieldManager()
	clustertest.Main(m)
}

var update = flag.Bool("update", false, "rewrite testdata/commands from what the commands print")

// TestCommands runs command lines in-process, the way Helm tests its CLI:
// each case's output (stdout, then stderr when the command fails) must
// equal its golden file in testdata/commands, and its exit code its code.
// The rollouts are written with fixed statuses (no controller), so every
// state the commands show is the one set here; the test's namespace reads
// NAMESPACE in the golden files.
func TestCommands(t *testing.T) {
	env := clustertest.New(t)
	if err := controller.InstallCRDs(t.Context(), env.Config); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace
	at := metav1.NewTime(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	healthy := func(b *v1alpha1.Rollout) {
		rev := bluegreen.TemplateRevision(&b.Spec.Template)
		b.Status = v1alpha1.RolloutStatus{
			Phase: v1alpha1.PhaseHealthy, Message: "revision " + rev + " serves on blue", ActiveColor: v1alpha1.Blue, PreviewColor: v1alpha1.Blue, StableColor: v1alpha1.Blue,
			StableRevision: rev, CurrentRevision: rev, Replicas: 2, ReadyReplicas: 2,
			Blue:    v1alpha1.ColorStatus{Revision: rev, Replicas: 2, ReadyReplicas: 2},
			History: []v1alpha1.RevisionRecord{{Revision: rev, Images: []string{b.Spec.Template.Spec.Containers[0].Image}, PromotedAt: &at, Outcome: v1alpha1.OutcomePromoted}},
		}
	}
	rollout(t, c, ns, "api", "agentic-rag/api:1.0.0", healthy)
	rollout(t, c, ns, "web", "agentic-rag/api:2.0.0", func(b *v1alpha1.Rollout) {
		healthy(b)
		b.Status.History[0].Revision, b.Status.StableRevision, b.Status.Blue.Revision = "1111111111", "1111111111", "1111111111"
		b.Status.History[0].Images = []string{"agentic-rag/api:1.9.0"}
		rev := bluegreen.TemplateRevision(&b.Spec.Template)
		b.Status.Phase, b.Status.Message, b.Status.PreviewColor = v1alpha1.PhasePaused, "revision "+rev+" is ready on green, waiting for promotion", v1alpha1.Green
		b.Status.Green = v1alpha1.ColorStatus{Revision: rev, Replicas: 2, ReadyReplicas: 2}
	})
	rollout(t, c, ns, "worker", "agentic-rag/api:3.0.0-broken", func(b *v1alpha1.Rollout) {
		healthy(b)
		b.Status.History[0].Revision, b.Status.StableRevision, b.Status.Blue.Revision = "2222222222", "2222222222", "2222222222"
		b.Status.History[0].Images = []string{"agentic-rag/api:2.9.0"}
		rev := bluegreen.TemplateRevision(&b.Spec.Template)
		b.Status.Phase, b.Status.Message = v1alpha1.PhaseAborted, "revision "+rev+" never became ready"
		b.Status.AbortedRevision, b.Status.AbortReason, b.Status.AbortMessage = rev, v1alpha1.ReasonProgressDeadline, "never became ready"
		b.Status.History = append([]v1alpha1.RevisionRecord{{Revision: rev, Images: []string{"agentic-rag/api:3.0.0-broken"}, Outcome: v1alpha1.OutcomeAborted}}, b.Status.History...)
	})
	kube := []string{"--kubeconfig", env.Cluster.Kubeconfig}
	t.Run("rollout status -w on a terminal", func(t *testing.T) {
		// The paused rollout never finishes: the view is redrawn in place
		// (its elapsed time changes) until --timeout.
		pty, term := openPTYPair(t)
		t.Setenv("CI", "")
		t.Setenv("TERM", "xterm")
		read := make(chan string)
		go func() {
			data, _ := io.ReadAll(pty) // until the terminal side closes
			read <- string(data)
		}()
		code := Execute(context.Background(), Streams{In: strings.NewReader(""), Out: term, ErrOut: io.Discard},
			append([]string{"rollout", "status", "web", "-n", ns, "-w", "--timeout", "2500ms"}, kube...))
		_ = term.Close()
		out := <-read
		if code != exitRolloutInProgress || strings.Count(out, "\x1b[J") < 2 || !strings.Contains(out, "(watching for 2s") || strings.Count(out, "Name:       "+ns+"/web") < 3 {
			t.Fatalf("exit %d; want %d and the view redrawn in place at least twice:\n%q", code, exitRolloutInProgress, out)
		}
	})
	home := t.TempDir()
	for _, tt := range []struct {
		golden string
		args   []string
		code   int
		// env is set for the command (the process environment).
		env map[string]string
	}{
		{"rollout-list.txt", []string{"rollout", "list", "-n", ns}, 0, nil},
		{"rollout-list.json", []string{"rollout", "list", "-n", ns, "-o", "json"}, 0, nil},
		{"rollout-status-healthy.txt", []string{"rollout", "status", "api", "-n", ns}, 0, nil},
		{"rollout-status-paused.txt", []string{"rollout", "status", "web", "-n", ns}, exitRolloutInProgress, nil},
		{"rollout-status-aborted.txt", []string{"rollout", "status", "worker", "-n", ns}, exitRolloutFailed, nil},
		{"rollout-history.txt", []string{"rollout", "history", "worker", "-n", ns}, 0, nil},
		{"rollout-history.json", []string{"rollout", "history", "worker", "-n", ns, "-o", "json"}, 0, nil},
		{"rollout-status-aborted.json", []string{"rollout", "status", "worker", "-n", ns, "-o", "json"}, exitRolloutFailed, nil},
		{"rollout-promote-healthy.txt", []string{"rollout", "promote", "api", "-n", ns}, 1, nil},
		{"rollout-abort-aborted.txt", []string{"rollout", "abort", "worker", "-n", ns}, 1, nil},
		{"rollout-status-missing.txt", []string{"rollout", "status", "nosuch", "-n", ns}, 1, nil},
		{"rollout-status-no-name.txt", []string{"rollout", "status", "-n", ns}, 1, nil},
		{"rollout-set-image-bad.txt", []string{"rollout", "set-image", "api", "api=Not A Valid::Image", "-n", ns}, 1, nil},
		{"env-list.txt", []string{"env", "list"}, 0, nil},
		{"env-list.json", []string{"env", "list", "-o", "json"}, 0, nil},
		{"validate-unknown-env.txt", []string{"validate", "--env", "prod"}, 1, nil},
		{"validate-policy.txt", []string{"validate", "--env", "production", "--set", "api.replicas=1", "--set", "api.image.tag=latest"}, 1, nil},
		{"validate-set-type.txt", []string{"validate", "--env", "staging", "--set", "api.replicas=two"}, 1, nil},
		{"env-diff.txt", []string{"env", "diff", "staging", "production"}, 0, nil},
		{"env-diff.json", []string{"env", "diff", "staging", "production", "-o", "json"}, 0, nil},
		{"secrets-list.json", []string{"secrets", "list", "--env", "staging", "-o", "json"}, 0, nil},
		{"status-not-installed.json", []string{"status", "--env", "staging", "-o", "json", "--kubeconfig", env.Cluster.Kubeconfig}, 0, nil},
		{"history-not-installed.txt", []string{"history", "--env", "staging", "--kubeconfig", env.Cluster.Kubeconfig}, 1, nil},
		{"render-bad-format.txt", []string{"render", "--env", "development", "-o", "xml"}, 1, nil},
		{"status-no-kubeconfig.txt", []string{"status", "--env", "staging", "--kubeconfig", "/nonexistent/kubeconfig"}, 1, nil},
		{"status-no-kubeconfig-at-all.txt", []string{"status", "--env", "staging"}, 1, map[string]string{"KUBECONFIG": "", "HOME": home}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if args[0] == "rollout" {
				args = append(slices.Clone(args), kube...)
			}
			var out, errOut bytes.Buffer
			code := Execute(context.Background(), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
			got := out.String()
			if code != 0 {
				got += errOut.String()
			}
			got = strings.ReplaceAll(got, ns, "NAMESPACE")
			// What the API server assigns differs from run to run.
			got = volatileMeta.ReplaceAllString(got, `"$1": "($1)"`)
			path := filepath.Join("testdata", "commands", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil { //nolint:gosec // G306: a golden file in the repository
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path) //nolint:gosec // G304: the case's golden file
			if err != nil {
				t.Fatalf("%v (hint: go test ./internal/cli -run TestCommands -update)", err)
			}
			if code != tt.code || got != string(want) {
				t.Errorf("ragdeploy %s: exit %d (want %d)\n--- got\n%s--- want (%s)\n%s", strings.Join(tt.args, " "), code, tt.code, got, path, want)
			}
		})
	}
}

var volatileMeta = regexp.MustCompile(`"(uid|resourceVersion|creationTimestamp)": "[^"]*"`)

// rollout creates a Rollout running image and gives it the
// status set writes (as its controller would have).
func rollout(t *testing.T, c client.Client, ns, name, image string, set func(*v1alpha1.Rollout)) {
	t.Helper()
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas:       new(int32(2)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			ActiveService:  name,
			PreviewService: name + "-preview",
			Strategy:       v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: image}}},
			},
		},
	}
	if err := c.Create(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	set(b)
	b.Status.ObservedGeneration = b.Generation
	if err := c.Status().Update(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}
