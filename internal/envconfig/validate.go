package envconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"

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
