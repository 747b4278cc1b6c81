package bluegreen

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

func TestValidate(t *testing.T) {
	valid := func() *v1alpha1.Rollout {
		w := newTestWorld()
		return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: w.o.Spec}
	}
	if errs := Validate(valid()); len(errs) != 0 {
		t.Fatalf("valid Rollout rejected: %v", errs)
	}
	http := &v1alpha1.HTTPCheck{URL: "http://x"}
	tests := []struct {
		name string
		// mutate breaks a valid object.
		mutate func(*v1alpha1.Rollout)
		// wantField is the field path the error names.
		wantField string
	}{
		{"long name", func(b *v1alpha1.Rollout) { b.Name = strings.Repeat("a", 41) }, "metadata.name"},
		{"no selector", func(b *v1alpha1.Rollout) { b.Spec.Selector = nil }, "spec.selector.matchLabels"},
		{"selector does not match template", func(b *v1alpha1.Rollout) {
			b.Spec.Template.Labels = map[string]string{"app": "other"}
		}, "spec.template.metadata.labels"},
		{"color label set by hand", func(b *v1alpha1.Rollout) { b.Spec.Template.Labels[LabelColor] = "blue" }, "spec.template.metadata.labels[ragdeploy.io/color]"},
		{"no containers", func(b *v1alpha1.Rollout) { b.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers"},
		{"no active service", func(b *v1alpha1.Rollout) { b.Spec.ActiveService = "" }, "spec.activeService"},
		{"invalid service name", func(b *v1alpha1.Rollout) { b.Spec.PreviewService = "Preview_Svc" }, "spec.previewService"},
		{"same active and preview", func(b *v1alpha1.Rollout) { b.Spec.PreviewService = b.Spec.ActiveService }, "spec.previewService"},
		{"preview larger than replicas", func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.PreviewReplicaCount = new(int32(5)) }, "spec.previewReplicaCount"},
		{"check of no kind", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1}}
		}, "spec.prePromotionAnalysis[0]"},
		{"check of two kinds", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, HTTP: http, Job: &v1alpha1.JobCheck{}}}
		}, "spec.postPromotionAnalysis[0]"},
		{"duplicate check names", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, HTTP: http}, {Name: "x", Count: 1, HTTP: http}}
		}, "spec.postPromotionAnalysis[1].name"},
		{"check that can never fail", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 2, FailureLimit: 2, HTTP: http}}
		}, "spec.prePromotionAnalysis[0].failureLimit"},
		{"bad prometheus condition", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, Prometheus: &v1alpha1.PrometheusCheck{Address: "http://p", Query: "up", SuccessCondition: "up > 1"}}}
		}, "spec.prePromotionAnalysis[0].prometheus.successCondition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := valid()
			tt.mutate(b)
			errs := Validate(b)
			if len(errs) == 0 {
				t.Fatal("accepted")
			}
			found := false
			for _, e := range errs {
				if e.Field == tt.wantField {
					found = true
				}
			}
			if !found {
				t.Fatalf("errors %v do not name %s", errs, tt.wantField)
			}
		})
	}
}
