// Package simapp stands in for the Agentic RAG api's /health endpoint on the
// local cluster, where pods run nothing. It answers for the pods a Service
// selects, judging each by its image tag, so rollouts, pipelines and demos can
// ship good and bad versions:
//
//	tag contains "broken"   /health fails in every stage
//	tag contains "regress"  /health passes before promotion, fails after it
//	                        (a version that breaks under production traffic)
//	anything else           /health passes
//
// Analysis URLs point at it with the Service and stage in the query:
//
//	<URL>/health?namespace={{.Namespace}}&service={{.PreviewService}}&stage={{.Stage}}
package simapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// Server is a running stand-in.
type Server struct {
	URL string
	srv *http.Server
	c   client.Client
}

// Start serves on a free loopback port until Close.
func Start(c client.Client) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), c: c}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.health)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// HealthURL is the analysis URL template for a stage's Service variable
// (".PreviewService" or ".ActiveService").
func (s *Server) HealthURL(serviceVar string) string {
	return s.URL + "/health?namespace={{.Namespace}}&service={{" + serviceVar + "}}&stage={{.Stage}}"
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	images, err := s.images(ctx, q.Get("namespace"), q.Get("service"))
	status, code := "ok", http.StatusOK
	switch {
	case err != nil:
		status, code = err.Error(), http.StatusServiceUnavailable
	case len(images) == 0:
		status, code = "no pods behind the service", http.StatusServiceUnavailable
	}
	for _, img := range images {
		tag := img[strings.LastIndex(img, ":")+1:]
		if !standin.BehaviorOf(tag).HealthyIn(v1alpha1.AnalysisStage(q.Get("stage")).TakesTraffic()) {
			status, code = "down", http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "images": images})
}

// images lists the api images of the ready pods a Service selects.
func (s *Server) images(ctx context.Context, ns, service string) ([]string, error) {
	var svc corev1.Service
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: service}, &svc); err != nil {
		return nil, fmt.Errorf("service %s/%s: %w", ns, service, err)
	}
	var pods corev1.PodList
	if err := s.c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || len(p.Spec.Containers) == 0 || !ready(p) {
			continue
		}
		if img := p.Spec.Containers[0].Image; !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	return out, nil
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// AnalysisSets are --set overrides that point every HTTP analysis check of
// an environment's values at the server: pre-promotion checks at the preview
// Service, post-promotion checks at the active one.
func (s *Server) AnalysisSets(values map[string]any) []string {
	var out []string
	for _, stage := range []struct{ key, service string }{
		{"prePromotionAnalysis", ".PreviewService"},
		{"postPromotionAnalysis", ".ActiveService"},
	} {
		api, _ := values["api"].(map[string]any)
		bg, _ := api["blueGreen"].(map[string]any)
		checks, _ := bg[stage.key].([]any)
		for i, c := range checks {
			if m, ok := c.(map[string]any); ok && m["http"] != nil {
				out = append(out, fmt.Sprintf("api.blueGreen.%s[%d].http.url=%s", stage.key, i, s.HealthURL(stage.service)))
			}
		}
	}
	return out
}
