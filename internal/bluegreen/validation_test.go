package bluegreen

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

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
		{"preview larger than replicas", func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.PreviewReplicaCount = new(int32(5)) }, "spec.strategy.blueGreen.previewReplicaCount"},
		{"check of no kind", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1}}
		}, "spec.strategy.blueGreen.prePromotionAnalysis[0]"},
		{"check of two kinds", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, HTTP: http, Job: &v1alpha1.JobCheck{}}}
		}, "spec.strategy.blueGreen.postPromotionAnalysis[0]"},
		{"duplicate check names", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, HTTP: http}, {Name: "x", Count: 1, HTTP: http}}
		}, "spec.strategy.blueGreen.postPromotionAnalysis[1].name"},
		{"check that can never fail", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 2, FailureLimit: 2, HTTP: http}}
		}, "spec.strategy.blueGreen.prePromotionAnalysis[0].failureLimit"},
		{"bad prometheus condition", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1, Prometheus: &v1alpha1.PrometheusCheck{Address: "http://p", Query: "up", SuccessCondition: "up > 1"}}}
		}, "spec.strategy.blueGreen.prePromotionAnalysis[0].prometheus.successCondition"},
		{"no strategy", func(b *v1alpha1.Rollout) { b.Spec.Strategy = v1alpha1.Strategy{} }, "spec.strategy"},
		{"two strategies", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy.Canary = canarySteps(v1alpha1.CanaryStep{SetWeight: new(int32(50))})
		}, "spec.strategy"},
		{"canary without steps", func(b *v1alpha1.Rollout) { b.Spec.Strategy = v1alpha1.Strategy{Canary: canarySteps()} }, "spec.strategy.canary.steps"},
		{"canary step of two kinds", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Canary: canarySteps(v1alpha1.CanaryStep{SetWeight: new(int32(50)), Pause: &v1alpha1.CanaryPause{}})}
		}, "spec.strategy.canary.steps[0]"},
		{"canary weight of 100", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Canary: canarySteps(v1alpha1.CanaryStep{SetWeight: new(int32(100))})}
		}, "spec.strategy.canary.steps[0].setWeight"},
		{"canary weights 3 replicas cannot tell apart", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Canary: canarySteps(v1alpha1.CanaryStep{SetWeight: new(int32(10))},
				v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}}, v1alpha1.CanaryStep{SetWeight: new(int32(20))})}
		}, "spec.strategy.canary.steps[2].setWeight"},
		{"canary step check of no kind", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Canary: canarySteps(v1alpha1.CanaryStep{Analysis: &v1alpha1.StepAnalysis{Checks: []v1alpha1.AnalysisCheck{{Name: "x", Count: 1}}}})}
		}, "spec.strategy.canary.steps[0].analysis.checks[0]"},
		{"canary background check of no kind", func(b *v1alpha1.Rollout) {
			c := canarySteps(v1alpha1.CanaryStep{SetWeight: new(int32(50))})
			c.Analysis = []v1alpha1.AnalysisCheck{{Name: "x", Count: 1}}
			b.Spec.Strategy = v1alpha1.Strategy{Canary: c}
		}, "spec.strategy.canary.analysis[0]"},
		{"rolling and blue-green", func(b *v1alpha1.Rollout) { b.Spec.Strategy.Rolling = &v1alpha1.RollingStrategy{} }, "spec.strategy"},
		{"rolling surge and unavailable both 0", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{MaxSurge: new(intstr.FromInt32(0)), MaxUnavailable: new(intstr.FromString("0%"))}}
		}, "spec.strategy.rolling.maxSurge"},
		{"rolling surge not a count or percentage", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{MaxSurge: new(intstr.FromString("two"))}}
		}, "spec.strategy.rolling.maxSurge"},
		{"rolling negative unavailable", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{MaxUnavailable: new(intstr.FromInt32(-1))}}
		}, "spec.strategy.rolling.maxUnavailable"},
		{"rolling batch check of no kind", func(b *v1alpha1.Rollout) {
			b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{BatchAnalysis: []v1alpha1.AnalysisCheck{{Name: "x", Count: 1}}}}
		}, "spec.strategy.rolling.batchAnalysis[0]"},
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

func canarySteps(steps ...v1alpha1.CanaryStep) *v1alpha1.CanaryStrategy {
	return &v1alpha1.CanaryStrategy{Steps: steps}
}

// Weights the replica count can carry apart are accepted, and so are
// those it cannot when rounding is allowed; the message of a refused one
// names both steps and the pod count they share.
func TestValidateCanaryWeights(t *testing.T) {
	rollout := func(replicas int32, allowRounding bool, weights ...int32) *v1alpha1.Rollout {
		b := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: newTestWorld().o.Spec}
		b.Spec.Replicas = &replicas
		c := canarySteps()
		for _, w := range weights {
			c.Steps = append(c.Steps, v1alpha1.CanaryStep{SetWeight: new(w)}, v1alpha1.CanaryStep{Pause: &v1alpha1.CanaryPause{}})
		}
		c.AllowRounding = allowRounding
		b.Spec.Strategy = v1alpha1.Strategy{Canary: c}
		return b
	}
	for _, ok := range []*v1alpha1.Rollout{
		rollout(3, false, 25, 50, 75),
		rollout(10, false, 10, 20, 30, 50),
		rollout(3, false, 25, 25), // the same weight twice is one weight
		rollout(3, true, 10, 20, 25),
	} {
		if errs := Validate(ok); len(errs) != 0 {
			t.Errorf("replicas %d, steps %v: refused: %v", *ok.Spec.Replicas, ok.Spec.Strategy.Canary.Steps, errs)
		}
	}
	errs := Validate(rollout(3, false, 10, 20))
	if len(errs) != 1 {
		t.Fatalf("10%% and 20%% of 3 replicas: %v", errs)
	}
	for _, want := range []string{"spec.strategy.canary.steps[2].setWeight", "20%", "steps[0]'s 10%", "both 1 canary pod(s)", "25% (1 of 4 pods)", "allowRounding"} {
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("message %q does not say %q", errs[0].Error(), want)
		}
	}
}

// A route carries every weight exactly, so weights the replica count
// cannot carry apart are accepted with one; it needs the preview Service
// (the canary's backendRef) and a route name.
func TestValidateTrafficRouting(t *testing.T) {
	rollout := func(preview, route string) *v1alpha1.Rollout {
		b := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: newTestWorld().o.Spec}
		b.Spec.PreviewService = preview
		b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			Steps:          []v1alpha1.CanaryStep{{SetWeight: new(int32(10))}, {SetWeight: new(int32(20))}},
			TrafficRouting: &v1alpha1.TrafficRouting{GatewayAPI: &v1alpha1.GatewayAPIRouting{HTTPRoute: route}},
		}}
		return b
	}
	if errs := Validate(rollout("api-preview", "api")); len(errs) != 0 {
		t.Fatalf("10%% and 20%% of 3 replicas by a route: refused: %v", errs)
	}
	for _, tt := range []struct{ preview, route, want string }{
		{"", "api", "spec.previewService"},
		{"api-preview", "", "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute"},
	} {
		if errs := Validate(rollout(tt.preview, tt.route)); !strings.Contains(errs.ToAggregate().Error(), tt.want+": Required value") {
			t.Errorf("preview %q route %q: %v; want an error at %s", tt.preview, tt.route, errs, tt.want)
		}
	}
}

// CanaryPods gives the pod count nearest the weight beside the stable
// pods, and WeightOf what that count achieves.
func TestCanaryPods(t *testing.T) {
	for _, tt := range []struct {
		weight, replicas, pods int32
		achieved               string
	}{
		{25, 3, 1, "25% (1 of 4 pods)"},
		{50, 3, 3, "50% (3 of 6 pods)"},
		{75, 3, 9, "75% (9 of 12 pods)"},
		{10, 3, 1, "25% (1 of 4 pods)"},
		{33, 3, 1, "25% (1 of 4 pods)"},
		{10, 9, 1, "10% (1 of 10 pods)"},
		{20, 10, 3, "23% (3 of 13 pods)"},
		{1, 1, 1, "50% (1 of 2 pods)"},
		{50, 0, 0, "0% (0 of 0 pods)"},
	} {
		pods := CanaryPods(tt.weight, tt.replicas)
		if pods != tt.pods {
			t.Errorf("%d%% beside %d: %d pods, want %d", tt.weight, tt.replicas, pods, tt.pods)
		}
		if got := WeightOf(pods, tt.replicas+pods); got != tt.achieved {
			t.Errorf("%d%% beside %d: %s, want %s", tt.weight, tt.replicas, got, tt.achieved)
		}
	}
}
