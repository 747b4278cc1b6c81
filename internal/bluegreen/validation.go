package bluegreen

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
)

// Validate checks what the CRD schema cannot: the selector must match the
// template, names must be usable, checks must be of exactly one kind. The
// controller, the CLI and the chart tests share it.
func Validate(b *v1alpha1.Rollout) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	// <name>-green and <name>-predeploy-<revision> must stay valid names.
	if len(b.Name) > 40 {
		errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), b.Name, 40))
	}
	s := &b.Spec
	if s.Selector == nil || len(s.Selector.MatchLabels) == 0 {
		errs = append(errs, field.Required(spec.Child("selector", "matchLabels"), "Service selectors match labels by equality: give at least one label"))
	} else if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err != nil {
		errs = append(errs, field.Invalid(spec.Child("selector"), s.Selector, err.Error()))
	} else if !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), s.Template.Labels, "must match spec.selector"))
	}
	if _, ok := s.Template.Labels[LabelColor]; ok {
		errs = append(errs, field.Forbidden(spec.Child("template", "metadata", "labels").Key(LabelColor), "set by the controller"))
	}
	if len(s.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(spec.Child("template", "spec", "containers"), "at least one container"))
	}
	for _, svc := range []struct {
		path *field.Path
		name string
	}{{spec.Child("activeService"), s.ActiveService}, {spec.Child("previewService"), s.PreviewService}} {
		if svc.name == "" {
			continue
		}
		for _, msg := range validation.IsDNS1035Label(svc.name) {
			errs = append(errs, field.Invalid(svc.path, svc.name, msg))
		}
	}
	switch s.ActiveService {
	case "":
		errs = append(errs, field.Required(spec.Child("activeService"), "the Service that carries production traffic"))
	case s.PreviewService:
		errs = append(errs, field.Invalid(spec.Child("previewService"), s.PreviewService, "must differ from activeService"))
	}
	return append(errs, validateStrategy(spec.Child("strategy"), s)...)
}

func validateStrategy(path *field.Path, s *v1alpha1.RolloutSpec) field.ErrorList {
	bg, canary, rolling := s.Strategy.BlueGreen, s.Strategy.Canary, s.Strategy.Rolling
	var named []string
	for _, n := range []struct {
		name string
		set  bool
	}{{"blueGreen", bg != nil}, {"canary", canary != nil}, {"rolling", rolling != nil}} {
		if n.set {
			named = append(named, n.name)
		}
	}
	switch {
	case len(named) == 0:
		return field.ErrorList{field.Required(path, "exactly one of blueGreen, canary, rolling")}
	case len(named) > 1:
		return field.ErrorList{field.Invalid(path, strings.Join(named, ", "), "exactly one of blueGreen, canary, rolling")}
	case canary != nil:
		return validateCanary(path.Child("canary"), s)
	case rolling != nil:
		return validateRolling(path.Child("rolling"), rolling)
	}
	var errs field.ErrorList
	path = path.Child("blueGreen")
	if s.Replicas != nil && bg.PreviewReplicaCount != nil && *bg.PreviewReplicaCount > *s.Replicas {
		errs = append(errs, field.Invalid(path.Child("previewReplicaCount"), *bg.PreviewReplicaCount, "must not exceed replicas"))
	}
	errs = append(errs, validateChecks(path.Child("prePromotionAnalysis"), bg.PrePromotionAnalysis)...)
	return append(errs, validateChecks(path.Child("postPromotionAnalysis"), bg.PostPromotionAnalysis)...)
}

// validateRolling checks a rolling update's bounds (a count or a
// percentage, not both 0: a batch needs at least one pod) and checks.
func validateRolling(path *field.Path, r *v1alpha1.RollingStrategy) field.ErrorList {
	var errs field.ErrorList
	zero := 0
	for _, b := range []struct {
		name string
		v    *intstr.IntOrString
	}{{"maxSurge", r.MaxSurge}, {"maxUnavailable", r.MaxUnavailable}} {
		name, v := b.name, b.v
		if v == nil {
			continue
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, true)
		switch {
		case err != nil || (v.Type == intstr.String && !strings.HasSuffix(v.StrVal, "%")):
			errs = append(errs, field.Invalid(path.Child(name), v.String(), "must be a count (e.g. 1) or a percentage of the replicas (e.g. 25%)"))
		case n < 0:
			errs = append(errs, field.Invalid(path.Child(name), v.String(), "must not be negative"))
		case n == 0:
			zero++
		}
	}
	if zero == 2 {
		errs = append(errs, field.Invalid(path.Child("maxSurge"), r.MaxSurge.String(), "maxSurge and maxUnavailable are both 0: a batch could replace no pod; raise one of them"))
	}
	if p := r.Pause; p != nil && p.DurationSeconds != nil && *p.DurationSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("pause", "durationSeconds"), *p.DurationSeconds, "must not be negative"))
	}
	errs = append(errs, validateChecks(path.Child("batchAnalysis"), r.BatchAnalysis)...)
	return append(errs, validateChecks(path.Child("analysis"), r.Analysis)...)
}

func validateChecks(path *field.Path, checks []v1alpha1.AnalysisCheck) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i := range checks {
		c := &checks[i]
		p := path.Index(i)
		if seen[c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		seen[c.Name] = true
		kinds := 0
		for _, set := range []bool{c.HTTP != nil, c.Prometheus != nil, c.Job != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			errs = append(errs, field.Invalid(p, c.Name, fmt.Sprintf("exactly one of http, prometheus, job must be set (found %d)", kinds)))
		}
		if c.Prometheus != nil {
			if _, err := analysis.ParseCondition(c.Prometheus.SuccessCondition); err != nil {
				errs = append(errs, field.Invalid(p.Child("prometheus", "successCondition"), c.Prometheus.SuccessCondition, err.Error()))
			}
		}
		if c.FailureLimit >= max(c.Count, 1) {
			errs = append(errs, field.Invalid(p.Child("failureLimit"), c.FailureLimit, "must be lower than count, or the check can never fail"))
		}
	}
	return errs
}

// validateCanary checks the steps: each is exactly one thing, and each
// weight is one the replica count can carry apart from the others (unless
// rounding is allowed, or a route carries the weights); traffic routing
// needs a preview Service for the canary pods.
func validateCanary(path *field.Path, s *v1alpha1.RolloutSpec) field.ErrorList {
	c := s.Strategy.Canary
	replicas := int32(1)
	if s.Replicas != nil {
		replicas = *s.Replicas
	}
	errs := validateChecks(path.Child("analysis"), c.Analysis)
	routed := RouteOf(s) != ""
	if c.TrafficRouting != nil && !routed {
		errs = append(errs, field.Required(path.Child("trafficRouting", "gatewayAPI", "httpRoute"), "the HTTPRoute that carries the weight"))
	}
	if c.TrafficRouting != nil && s.PreviewService == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "previewService"),
			"trafficRouting sends the canary's weight to the preview Service, which selects the canary pods: name one (the HTTPRoute's second backendRef)"))
	}
	if len(c.Steps) == 0 {
		errs = append(errs, field.Required(path.Child("steps"), "at least one step"))
	}
	byPods := map[int32]int{}
	for i, step := range c.Steps {
		p := path.Child("steps").Index(i)
		kinds := 0
		for _, set := range []bool{step.SetWeight != nil, step.Pause != nil, step.Analysis != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			errs = append(errs, field.Invalid(p, kinds, "exactly one of setWeight, pause, analysis must be set"))
			continue
		}
		switch {
		case step.Analysis != nil:
			errs = append(errs, validateChecks(p.Child("analysis", "checks"), step.Analysis.Checks)...)
		case step.SetWeight != nil:
			w := *step.SetWeight
			if w < 1 || w > 99 {
				errs = append(errs, field.Invalid(p.Child("setWeight"), w, "must be 1 to 99 (the end of the steps is 100%)"))
				continue
			}
			if c.AllowRounding || replicas == 0 || routed {
				// A route carries every weight exactly.
				continue
			}
			pods := CanaryPods(w, replicas)
			if j, ok := byPods[pods]; ok && *c.Steps[j].SetWeight != w {
				errs = append(errs, field.Invalid(p.Child("setWeight"), w, fmt.Sprintf(
					"with %d replicas, %d%% and steps[%d]'s %d%% are both %d canary pod(s) beside the %d stable ones (%s): give weights the replica count can carry apart, more replicas, or allowRounding: true",
					replicas, w, j, *c.Steps[j].SetWeight, pods, replicas, WeightOf(pods, replicas+pods))))
				continue
			}
			byPods[pods] = i
		}
	}
	return errs
}
