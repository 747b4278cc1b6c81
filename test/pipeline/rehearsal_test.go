package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/simapp"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// rehearsal is a local cluster with staging and production namespaces, the
// controller, the api stand-in and a webhook receiver.
type rehearsal struct {
	cluster  *localcluster.Cluster
	c        client.Client
	runner   *runner
	mu       sync.Mutex
	notified []string
	// approvals counts the times production asked for approval.
	approvals int
}

var namespaces = map[string]string{"staging": "agentic-rag-staging", "production": "agentic-rag"}

// controllerImage stands in for the image cd.yml's build job publishes.
const controllerImage = "ghcr.io/agentic-rag/ragdeploy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newRehearsal(t *testing.T) *rehearsal {
	t.Helper()
	ctrllog.SetLogger(logr.Discard())
	ctx := t.Context()
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cluster.RESTConfig, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	app, err := simapp.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)

	r := &rehearsal{cluster: cluster, c: c}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var n controller.Notification
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
		for _, s := range []string{"agentic-rag-postgresql", "agentic-rag-redis", "agentic-rag-chromadb"} {
			if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: ns}, StringData: map[string]string{"password": "rehearsal", "token": "rehearsal"}}); err != nil {
				t.Fatal(err)
			}
		}
		e, err := envconfig.Load("../../environments/" + env + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		// The api's health checks reach the stand-in (the controller runs
		// outside the local cluster and cannot resolve Service DNS).
		sets[env] = strings.Join(app.AnalysisSets(e.Values), "\n")
	}
	r.runner = &runner{
		t: t, repo: repoRoot(t),
		env:     []string{"KUBECONFIG=" + cluster.Kubeconfig, localcluster.EnvBinDir + "=" + os.Getenv(localcluster.EnvBinDir)},
		envFor:  func(env string) []string { return []string{"RAGDEPLOY_SET=" + sets[env]} },
		secrets: map[string]string{"NOTIFY_WEBHOOK": hook.URL},
		// What the build job would have published.
		outputs: map[string]string{"build.image": controllerImage},
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
	rev, err := release.Deployed(release.Target{Kubeconfig: r.cluster.Kubeconfig, Namespace: namespaces[env], Name: "agentic-rag"})
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
	// The controller chart was rolled out first, with the built image.
	var ctrl appsv1.Deployment
	if err := r.c.Get(t.Context(), client.ObjectKey{Namespace: "ragdeploy-system", Name: "ragdeploy"}, &ctrl); err != nil {
		t.Fatalf("controller Deployment: %v", err)
	}
	if img := ctrl.Spec.Template.Spec.Containers[0].Image; img != controllerImage || ctrl.Status.AvailableReplicas == 0 {
		t.Fatalf("controller runs %s with %d available; want %s available", img, ctrl.Status.AvailableReplicas, controllerImage)
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
		runs := r.cd(t, "1.4.0-regress", func(t *testing.T) bool {
			r.assertServing(t, "staging", "1.4.0-regress")
			return true
		})
		wantResults(t, runs, "success", "failure")
		r.assertServing(t, "production", "1.2.0")
		if !strings.Contains(runs["deploy-production"].Log, "post") && !strings.Contains(runs["deploy-production"].Log, "Post") {
			t.Errorf("production log does not mention the post-promotion check:\n%s", runs["deploy-production"].Log)
		}
		if !strings.Contains(r.notifications(), "deploy of 1.4.0-regress to production failed") {
			t.Fatalf("no failure notification for production; got:\n%s", r.notifications())
		}
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
