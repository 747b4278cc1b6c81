package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/envconfig/secretstest"
	"github.com/agentic-rag/ragdeploy/internal/image"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/notify"
	"github.com/agentic-rag/ragdeploy/internal/prober"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// rehearsal is a local cluster with a real node, staging and production
// namespaces and a webhook receiver. The controller is what the pipeline
// installs: the chart, with the image the build made, on the real node; the
// api runs there too.
type rehearsal struct {
	cluster *localcluster.Cluster
	c       client.Client
	cs      kubernetes.Interface
	runner  *runner
	// image is the controller image the build published (by digest).
	image    string
	mu       sync.Mutex
	notified []string
	// approvals counts the times production asked for approval.
	approvals int
}

var namespaces = map[string]string{"staging": "agentic-rag-staging", "production": "agentic-rag"}

// controllerRepository is where cd.yml's build job publishes the image.
const controllerRepository = "ghcr.io/agentic-rag/ragdeploy"

// onRealNode are the chart values that put pods on the real node.
var onRealNode = []string{
	`nodeSelector.ragdeploy\.io/node-type=real`,
	"tolerations[0].key=ragdeploy.io/real-node",
	"tolerations[0].operator=Exists",
}

// apiOnRealNode puts an environment's api (and the chart's test pod) on the
// real node, small enough that both colors of staging and production fit
// on its 2 cores, and shortens the progress deadline so a version that
// never becomes ready is aborted within the rehearsal.
func apiOnRealNode() string {
	sets := []string{
		"api.resources.requests.cpu=50m", "api.resources.requests.memory=64Mi",
		"api.blueGreen.progressDeadlineSeconds=30", "tests.dependencies=false",
	}
	for _, s := range onRealNode {
		sets = append(sets, "api."+s)
	}
	return strings.Join(sets, "\n")
}

func newRehearsal(t *testing.T) *rehearsal {
	t.Helper()
	ctrllog.SetLogger(logr.Discard())
	ctx := t.Context()
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: 3, RealNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	c, err := client.New(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(prober.Config(cluster.RESTConfig, 20))
	if err != nil {
		t.Fatal(err)
	}

	// The build job's part: the ragdeploy binary, its image, published by
	// digest (here into the local registry, which real nodes pull from).
	bin := filepath.Join(t.TempDir(), "ragdeploy")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/ragdeploy") //nolint:gosec // G204: builds the binary under test, arguments as a list
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ragdeploy: %v\n%s", err, out)
	}
	img, err := image.FromExecutable(bin, "rehearsal", "rehearsal")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.PushImage(controllerRepository+":rehearsal", img); err != nil {
		t.Fatal(err)
	}

	r := &rehearsal{cluster: cluster, c: c, cs: cs, image: controllerRepository + "@" + digest.String()}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var n notify.Message
		_ = json.Unmarshal(body, &n)
		r.mu.Lock()
		r.notified = append(r.notified, n.Text)
		r.mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	// The platform team's part: namespaces and the database credentials.
	sets := map[string]string{}
	for env, ns := range namespaces {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}); err != nil {
			t.Fatal(err)
		}
		secretstest.CreatePlatformSecrets(ctx, t, c, ns, "rehearsal")
		// The environments' own checks: the in-cluster controller reaches the
		// Services by their cluster DNS names.
		sets[env] = apiOnRealNode()
	}
	r.runner = &runner{
		t: t, repo: repoRoot(t),
		env: []string{"KUBECONFIG=" + cluster.Kubeconfig, "RAGDEPLOY=" + bin,
			"CONTROLLER_SET=" + strings.Join(onRealNode, "\n")},
		envFor:  func(env string) []string { return []string{"RAGDEPLOY_SET=" + sets[env]} },
		secrets: map[string]string{"NOTIFY_WEBHOOK": hook.URL},
		// What the build job published.
		outputs: map[string]string{"build.image": r.image},
	}
	return r
}

// serving is the set of images behind a namespace's active api Service.
func (r *rehearsal) serving(t *testing.T, env string) []string {
	t.Helper()
	ns := namespaces[env]
	var svc corev1.Service
	if err := r.c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "agentic-rag-api"}, &svc); err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	if err := r.c.List(t.Context(), &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			seen[p.Spec.Containers[0].Image] = true
		}
	}
	var out []string
	for img := range seen {
		out = append(out, img)
	}
	sort.Strings(out)
	return out
}

func (r *rehearsal) revision(t *testing.T, env string) int {
	t.Helper()
	m, err := release.NewManager(release.Target{Kubeconfig: r.cluster.Kubeconfig, Namespace: namespaces[env], Name: "agentic-rag"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := m.Deployed()
	if err != nil {
		t.Fatal(err)
	}
	if rev == nil {
		return 0
	}
	return rev.Number
}

func (r *rehearsal) assertServing(t *testing.T, env, version string) {
	t.Helper()
	if got := r.serving(t, env); len(got) != 1 || got[0] != "agentic-rag/api:"+version {
		t.Fatalf("%s serves %v; want only agentic-rag/api:%s", env, got, version)
	}
}

func (r *rehearsal) notifications() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.notified, "\n")
}

func (r *rehearsal) cd(t *testing.T, version string, approve func(t *testing.T) bool) map[string]*jobRun {
	t.Helper()
	r.runner.approve = func(t *testing.T) bool {
		r.approvals++
		return approve(t)
	}
	runs := r.runner.run(version)
	t.Logf("cd.yml with api %s:\n%s", version, report(runs))
	for _, run := range runs {
		if run.Result == "failure" {
			t.Logf("%s log:\n%s", run.Job, run.Log)
		}
	}
	return runs
}

// TestPipelineRehearsal runs cd.yml's deploy jobs, through the same scripts
// CI runs, against staging and production namespaces of a local cluster.
func TestPipelineRehearsal(t *testing.T) {
	r := newRehearsal(t)

	// First release: both environments installed, production after approval.
	runs := r.cd(t, "1.1.0", func(t *testing.T) bool {
		if r.revision(t, "production") != 0 {
			t.Fatal("production was deployed before its approval")
		}
		r.assertServing(t, "staging", "1.1.0")
		return true
	})
	wantResults(t, runs, "success", "success")
	r.assertServing(t, "production", "1.1.0")
	// The controller chart was rolled out first, with the built image, and
	// its pods run it on the real node.
	var ctrl appsv1.Deployment
	if err := r.c.Get(t.Context(), client.ObjectKey{Namespace: "ragdeploy-system", Name: "ragdeploy"}, &ctrl); err != nil {
		t.Fatalf("controller Deployment: %v", err)
	}
	if img := ctrl.Spec.Template.Spec.Containers[0].Image; img != r.image || ctrl.Status.AvailableReplicas == 0 {
		t.Fatalf("controller runs %s with %d available; want %s available", img, ctrl.Status.AvailableReplicas, r.image)
	}
	var pods corev1.PodList
	if err := r.c.List(t.Context(), &pods, client.InNamespace("ragdeploy-system")); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "real-node-0" || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("controller pod %s: %s on %q; want Running on real-node-0", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}

	t.Run("a good version reaches production only after approval", func(t *testing.T) {
		runs := r.cd(t, "1.2.0", func(t *testing.T) bool {
			// Staging is done and tested; production still runs 1.1.0.
			r.assertServing(t, "staging", "1.2.0")
			r.assertServing(t, "production", "1.1.0")
			return true
		})
		wantResults(t, runs, "success", "success")
		r.assertServing(t, "production", "1.2.0")
	})

	t.Run("a version that fails in staging never reaches production", func(t *testing.T) {
		approvals, prodRevision := r.approvals, r.revision(t, "production")
		runs := r.cd(t, "1.3.0-broken", func(t *testing.T) bool {
			t.Fatal("production asked for approval after staging failed")
			return false
		})
		wantResults(t, runs, "failure", "skipped")
		if r.approvals != approvals || r.revision(t, "production") != prodRevision {
			t.Fatalf("production touched: revision %d (was %d)", r.revision(t, "production"), prodRevision)
		}
		r.assertServing(t, "production", "1.2.0")
		r.assertServing(t, "staging", "1.2.0") // the failed rollout was aborted
		if !strings.Contains(r.notifications(), "agentic-rag-staging/agentic-rag: deploy of 1.3.0-broken to staging failed") {
			t.Fatalf("no failure notification for staging; got:\n%s", r.notifications())
		}
	})

	t.Run("a version failing post-promotion analysis in production is rolled back", func(t *testing.T) {
		// Users' traffic on production: the regressing version fails its
		// /health once it carries some.
		ctx, stop := context.WithCancel(t.Context())
		traffic := prober.Start(ctx, r.cs, prober.ServiceOptions{Namespace: namespaces["production"], Name: "agentic-rag-api", Rate: 20})
		defer stop()
		runs := r.cd(t, "1.4.0-regress", func(t *testing.T) bool {
			r.assertServing(t, "staging", "1.4.0-regress")
			return true
		})
		wantResults(t, runs, "success", "failure")
		r.assertServing(t, "production", "1.2.0")
		if !strings.Contains(runs["deploy-production"].Log, "Aborted ("+v1alpha1.ReasonPostPromotionFailed+")") {
			t.Errorf("production log does not mention the post-promotion check:\n%s", runs["deploy-production"].Log)
		}
		if !strings.Contains(r.notifications(), "deploy of 1.4.0-regress to production failed") {
			t.Fatalf("no failure notification for production; got:\n%s", r.notifications())
		}
		t.Logf("production traffic during the rollout and its rollback: %s", traffic.Take())
	})
}

func wantResults(t *testing.T, runs map[string]*jobRun, staging, production string) {
	t.Helper()
	if runs["deploy-staging"].Result != staging || runs["deploy-production"].Result != production {
		t.Fatalf("staging %s, production %s; want %s, %s", runs["deploy-staging"].Result, runs["deploy-production"].Result, staging, production)
	}
	if runs["build"].Result != "not rehearsed" {
		t.Fatalf("build: %s", runs["build"].Result)
	}
}
