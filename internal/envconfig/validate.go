package envconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Validate checks an environment before anything touches a cluster: the
// values (environment file plus --set overrides) against the chart's and
// subcharts' schemas, that the chart renders, and the policy profile. Every
// problem is reported at once in a *ValidationError; on success the rendered
// objects are returned.
func Validate(ctx context.Context, env *Environment, c *chart.Chart, values map[string]any) ([]render.Object, error) {
	// An unknown policy profile is one problem among the others: the rest
	// of the file is still checked (only the policy rules cannot run).
	var policyErr field.ErrorList
	profile, ok := profiles[env.PolicyName()]
	if !ok {
		policyErr = field.ErrorList{field.Required(field.NewPath("policy"),
			fmt.Sprintf("no policy profile is named %q (hint: set policy: to one of %s)", env.PolicyName(), strings.Join(profileNames(), ", ")))}
	}
	fail := func(errs field.ErrorList) error {
		return &ValidationError{File: env.File, Errs: append(slices.Clone(policyErr), errs...)}
	}
	if errs := shapeErrors(c, values, field.NewPath("values")); len(errs) > 0 {
		return nil, fail(errs)
	}
	coalesced, err := util.CoalesceValues(c, values)
	if err != nil {
		return nil, fail(field.ErrorList{field.Invalid(field.NewPath("values"), nil, err.Error())})
	}
	if errs := schemaErrors(c, coalesced, field.NewPath("values")); len(errs) > 0 {
		return nil, fail(errs)
	}
	objs, err := render.Render(ctx, c, render.Release{Name: env.Release.Name, Namespace: env.Release.Namespace}, values)
	if err != nil {
		return nil, fail(field.ErrorList{field.Invalid(field.NewPath("values"), field.OmitValueType{}, "the chart does not render: "+err.Error())})
	}
	if errs := rolloutErrors(objs); len(errs) > 0 {
		return nil, fail(errs)
	}
	if !ok {
		return nil, fail(nil)
	}
	errs := env.ofPolicy(policyErrors(profile, coalesced, objs))
	if env.Secrets.Generate && !profile.AllowGeneratedSecrets {
		errs = append(errs, field.Forbidden(field.NewPath("secrets", "generate"),
			fmt.Sprintf("the %s policy profile never generates credentials: provide them with a SOPS file (secrets.file), ExternalSecrets (secrets.external) or Secrets that exist in %s", env.PolicyName(), env.Release.Namespace)))
	}
	if len(errs) > 0 {
		return nil, fail(errs)
	}
	return objs, nil
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(data)
}

// rolloutErrors checks each rendered Rollout as the controller would
// (bluegreen.Validate: what its CRD schema cannot say, such as canary
// weights the replica count cannot tell apart), so that a spec the
// controller would refuse is refused here, before anything is applied.
// A strategy field is reported at the values that set it (spec.strategy.
// canary.steps[2] at values.api.canary.steps[2]).
func rolloutErrors(objs []render.Object) field.ErrorList {
	var errs field.ErrorList
	for _, o := range objs {
		if o.GetKind() != "Rollout" {
			continue
		}
		var ro v1alpha1.Rollout
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ro); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("values", "api"), field.OmitValueType{}, fmt.Sprintf("Rollout %s does not decode: %v", o.GetName(), err)))
			continue
		}
		for _, e := range bluegreen.Validate(&ro) {
			path := e.Field
			for _, strategy := range []string{"blueGreen", "canary", "rolling"} {
				if rest, ok := strings.CutPrefix(path, "spec.strategy."+strategy); ok {
					path = "values.api." + strategy + rest
				}
			}
			if !strings.HasPrefix(path, "values.") {
				e.Detail = fmt.Sprintf("Rollout %s %s: %s", o.GetName(), path, e.Detail)
				path = "values.api"
			}
			e.Field = path
			errs = append(errs, e)
		}
	}
	return errs
}
