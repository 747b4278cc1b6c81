package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis/promtest"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/notify"
)

// healthServer answers /health with the status code it holds, and counts requests.
type healthServer struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{}
	h.status.Store(http.StatusOK)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.hits.Add(1)
		w.WriteHeader(int(h.status.Load()))
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(h.Close)
	return h
}

func httpCheck(name, url string, count, failureLimit int32) v1alpha1.AnalysisCheck {
	return v1alpha1.AnalysisCheck{
		Name: name, Count: count, FailureLimit: failureLimit, IntervalSeconds: 1,
		HTTP: &v1alpha1.HTTPCheck{URL: url + "/health?svc={{.PreviewService}}", ExpectedStatus: 200, JSONField: "status", JSONValue: "ok"},
	}
}

func TestPrePromotionAnalysisFailureAborts(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 2, 0)}
	})
	h.status.Store(http.StatusInternalServerError)
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.abortedBackOn(v2, v1alpha1.ReasonPrePromotionFailed, v1)
	if h.hits.Load() == 0 {
		t.Fatal("the check never reached the server")
	}
}

func TestPostPromotionAnalysisFailureRollsBack(t *testing.T) {
	h := newHealthServer(t)
	notified := newHookRecorder(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("errors", h.URL, 3, 0)}
		b.Spec.Notifications = &v1alpha1.Notifications{Webhooks: []string{notified.url + "/hook"}}
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("promoted, post-promotion analysis running", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.ActiveColor == v1alpha1.Green && b.Status.PromotedAt != nil && b.Status.CurrentRevision == v2
	})
	h.status.Store(http.StatusServiceUnavailable)
	got := s.waitFor("rolled back", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortReason == v1alpha1.ReasonPostPromotionFailed
	})
	if got.Status.StableRevision != v1 || !s.selects("api", v1alpha1.Blue) {
		t.Fatalf("stable %s active %s after the failed check; want v1 on blue", got.Status.StableRevision, s.serviceColor("api"))
	}
	// The old color was warm: no scale-down happened before the rollback.
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("blue has %d replicas; want 3", r)
	}
	// The failed color is retired after the delay (argo-rollouts #3242).
	s.waitFor("green scaled down", 20*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 0 })
	clustertest.Eventually(t, 10*time.Second, "rollback notification", func(context.Context) (bool, error) {
		for _, n := range notified.received() {
			if n.Reason == v1alpha1.ReasonPostPromotionFailed && n.Revision == v2 && strings.Contains(n.Text, "aborted") {
				return true, nil
			}
		}
		return false, nil
	})
}

// hookRecorder is a webhook receiver that keeps the notifications it got.
type hookRecorder struct {
	mu  sync.Mutex
	got []notify.Message
	url string
}

func newHookRecorder(t *testing.T) *hookRecorder {
	r := &hookRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var n notify.Message
		if err := json.NewDecoder(req.Body).Decode(&n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, n)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *hookRecorder) received() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.got...)
}

// errorGauge serves api_error_ratio for Prometheus to scrape.
type errorGauge struct{ value atomic.Value }

func (g *errorGauge) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintf(w, "# TYPE api_error_ratio gauge\napi_error_ratio{service=\"api-preview\"} %s\n", g.value.Load())
}

func TestJobAndPrometheusAnalysis(t *testing.T) {
	gauge := &errorGauge{}
	gauge.value.Store("0.01")
	target := httptest.NewServer(gauge)
	t.Cleanup(target.Close)
	prom := promtest.Start(t, target.URL+"/metrics")
	prom.WaitForData(t, "api_error_ratio")
	smoke := v1alpha1.AnalysisCheck{Name: "smoke-job", Count: 1, Job: &v1alpha1.JobCheck{Spec: batchv1.JobSpec{
		BackoffLimit: new(int32(0)),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{localcluster.AnnotationReadyAfter: "1s"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "smoke", Image: "agentic-rag/api-smoke:1"}}},
		},
	}}}
	errorsCheck := v1alpha1.AnalysisCheck{Name: "error-rate", Count: 4, IntervalSeconds: 1, Prometheus: &v1alpha1.PrometheusCheck{
		Address: prom.URL, Query: `max(api_error_ratio{service="{{.PreviewService}}"})`, SuccessCondition: "result < 0.05",
	}}
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{smoke}
		b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{errorsCheck}
	})

	// v2: the smoke Job passes, the error rate stays low: promoted.
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	got := s.healthyOn(v2, 60*time.Second)
	for _, a := range got.Status.Analysis {
		if a.Result != v1alpha1.AnalysisSuccessful {
			t.Fatalf("check %s: %s (%s); want Successful", a.Name, a.Result, a.Message)
		}
	}
	jobs, err := s.env.Client.BatchV1().Jobs(s.env.Namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "ragdeploy.io/check=smoke-job"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("smoke Jobs: %d (err %v); want exactly 1 for one measurement", len(jobs.Items), err)
	}

	// v3: the error rate rises after the switch: rolled back to v2.
	v3 := s.setImage("agentic-rag/api:3.0.0", nil)
	s.waitFor("v3 promoted", 60*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.CurrentRevision == v3 && b.Status.PromotedAt != nil
	})
	gauge.value.Store("0.3")
	got = s.waitFor("rolled back by the error rate", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortReason == v1alpha1.ReasonPostPromotionFailed
	})
	if got.Status.StableRevision != v2 || !strings.Contains(got.Status.AbortMessage, "0.3") {
		t.Fatalf("stable %s, abort message %q; want v2 stable and the measured 0.3 named", got.Status.StableRevision, got.Status.AbortMessage)
	}
	_ = v1
}

// Abort during post-promotion analysis: traffic returns to the warm color.
func TestAbortAfterPromotion(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("long", h.URL, 1000, 0)}
		b.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(600))
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("promoted", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.ActiveColor == v1alpha1.Green && b.Status.PromotedAt != nil && b.Status.CurrentRevision == v2
	})
	s.patchStatus(bluegreen.AbortPatch(v2, "test"))
	got := s.waitFor("back on blue", 20*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.ActiveColor == v1alpha1.Blue
	})
	if got.Status.StableRevision != v1 || !s.selects("api", v1alpha1.Blue) {
		t.Fatalf("stable %s, active Service %s; want v1 on blue", got.Status.StableRevision, s.serviceColor("api"))
	}
}
