package release

import (
	"context"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Plan is everything an environment deploys, worked out without touching a
// cluster: validated values, the rendered chart and the secret objects.
type Plan struct {
	Env     *envconfig.Environment
	Chart   *chart.Chart
	Values  map[string]any
	Objects []render.Object
	// Secrets are applied by ragdeploy next to the release (never stored in
	// a Helm release record).
	Secrets []*unstructured.Unstructured
}

// Prepare validates an environment with its --set overrides and decrypts its
// secrets in memory. Any problem is returned before a cluster is contacted.
func Prepare(ctx context.Context, env *envconfig.Environment, sets []string) (*Plan, error) {
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		return nil, err
	}
	values, err := env.MergedValues(sets)
	if err != nil {
		return nil, err
	}
	objs, err := envconfig.Validate(ctx, env, c, values)
	if err != nil {
		return nil, err
	}
	var data envconfig.SecretData
	if f := env.SecretsFile(); f != "" {
		if data, err = envconfig.DecryptSecrets(f); err != nil {
			return nil, err
		}
	}
	return &Plan{Env: env, Chart: c, Values: values, Objects: objs, Secrets: env.SecretObjects(data)}, nil
}

// Target is where the plan's release lives.
func (p *Plan) Target(kubeconfig, context string) Target {
	return TargetOf(p.Env, kubeconfig, context)
}

// TargetOf is the release an environment deploys to, on the cluster of
// kubeconfig and context (default: the environment's release.context).
func TargetOf(env *envconfig.Environment, kubeconfig, context string) Target {
	if context == "" {
		context = env.Release.Context
	}
	return Target{Kubeconfig: kubeconfig, Context: context, Namespace: env.Release.Namespace, Name: env.Release.Name}
}

// chartObjects are the objects the plan's chart rendered.
func (p *Plan) chartObjects() []*unstructured.Unstructured { return unstructuredOf(p.Objects) }

func unstructuredOf(objs []render.Object) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Unstructured)
	}
	return out
}

// desired is every object of the plan as it will be applied: the chart's
// (applied: with the fields liveFields keeps), with the ownership metadata
// Helm adds, and the secrets'.
func (p *Plan) desired(applied []*unstructured.Unstructured) []*unstructured.Unstructured {
	return append(owned(applied, p.Env.Release.Name, p.Env.Release.Namespace), p.Secrets...)
}

// owned is objs with the ownership metadata Helm adds to release name in
// namespace.
func owned(objs []*unstructured.Unstructured, name, namespace string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		out = append(out, withHelmOwnership(o, name, namespace))
	}
	return out
}

// withHelmOwnership adds the label and annotations Helm sets on every object
// of a release when it applies it, so that a dry-run apply of the object
// predicts what Helm keeps.
func withHelmOwnership(u *unstructured.Unstructured, name, namespace string) *unstructured.Unstructured {
	c := u.DeepCopy()
	labels := c.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	c.SetLabels(labels)
	ann := c.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[annotationName], ann[annotationNamespace] = name, namespace
	c.SetAnnotations(ann)
	if c.GetNamespace() == "" {
		c.SetNamespace(namespace)
	}
	return c
}

// Redacted is the chart's objects as Helm renders them and the secrets'
// objects with every value replaced by a fingerprint: what
// `ragdeploy render` prints.
func (p *Plan) Redacted() []*unstructured.Unstructured {
	out := p.chartObjects()
	for _, s := range p.Secrets {
		out = append(out, envconfig.Redact(s))
	}
	return out
}
