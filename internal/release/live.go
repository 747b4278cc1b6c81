package release

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// liveFields says which fields of a release's objects other controllers
// own, and carries them from the live objects into the desired ones: the
// color the rollout controller put into a Service's selector, and the
// replicas an HPA chose for its target (never fewer than the desired
// object's, which is the HPA's minReplicas). It is the one place that keeps
// them: an upgrade applies, and a dry run diffs, objects that went through
// it; a drift check adopts them through it before comparing; the undo of a
// failed upgrade restores through it. The chart renders neither (it has no
// lookup), so its output is the same for Helm, `ragdeploy render` and GitOps.
type liveFields struct {
	// scaled are the workloads an HPA of the release scales.
	scaled map[objects.Scaled]bool
}

// liveFieldsOf knows the HPA targets among desired.
func liveFieldsOf(desired []*unstructured.Unstructured) liveFields {
	f := liveFields{scaled: map[objects.Scaled]bool{}}
	for _, w := range objects.ScaledByHPA(desired) {
		f.scaled[w] = true
	}
	return f
}

// service and scaledByHPA: the objects keep takes fields of.
func service(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Service" && u.GroupVersionKind().Group == ""
}

func (f liveFields) scaledByHPA(u *unstructured.Unstructured) bool {
	return f.scaled[objects.Scaled{Kind: u.GetKind(), Name: u.GetName()}]
}

// keep copies into desired what other controllers own in live (nil: the
// object does not exist yet, nothing to keep).
func (f liveFields) keep(desired, live *unstructured.Unstructured) {
	if live == nil {
		return
	}
	if service(desired) {
		keepColorSelector(desired, live)
	}
	if f.scaledByHPA(desired) {
		want, ok := replicas(desired)
		have, found := replicas(live)
		if ok && found && have > want {
			_ = unstructured.SetNestedField(desired.Object, have, "spec", "replicas")
		}
	}
}

// replicas reads spec.replicas, which a rendered object holds as a float64
// (decoded as JSON) and a live one as an int64.
func replicas(u *unstructured.Unstructured) (int64, bool) {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas")
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// keepColorSelector copies the color the rollout controller put into a live
// Service's selector into the desired Service, replacing any color the
// desired one carries (a release manifest records the color of the moment it
// was applied). The controller owns that key; a Service's selector is
// atomic, so applying a selector without the live color would point the
// Service at both colors, or the wrong one, until the controller switched it
// back.
func keepColorSelector(desired, live *unstructured.Unstructured) {
	color, ok, _ := unstructured.NestedString(live.Object, "spec", "selector", bluegreen.LabelColor)
	if !ok {
		return
	}
	sel, found, _ := unstructured.NestedStringMap(desired.Object, "spec", "selector")
	if !found {
		return
	}
	sel[bluegreen.LabelColor] = color
	_ = unstructured.SetNestedStringMap(desired.Object, sel, "spec", "selector")
}

// withLive returns copies of desired with the fields liveFields keeps,
// read from the cluster with one LIST per kind and namespace (of the kinds
// it keeps fields of only).
func withLive(ctx context.Context, live *objects.Live, desired []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	f := liveFieldsOf(desired)
	out := make([]*unstructured.Unstructured, 0, len(desired))
	for _, d := range desired {
		c := d.DeepCopy()
		if service(d) || f.scaledByHPA(d) {
			cur, err := live.Get(ctx, objects.RefOf(d))
			if err != nil {
				return nil, err
			}
			f.keep(c, cur)
		}
		out = append(out, c)
	}
	return out, nil
}

// planned is the post-renderer through which Helm applies the objects a
// command rendered once, instead of its own render of the same chart and
// values; with live set, the fields liveFields keeps are read from the
// cluster at that moment (the closest to the apply). Helm's render is only
// checked to name the same objects; its hooks, which a plan leaves out, pass
// through unchanged.
type planned struct {
	ctx     context.Context
	objects []*unstructured.Unstructured
	live    *objects.Live
}

func (p planned) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	rendered, err := render.DecodeAll("manifest", in.String())
	if err != nil {
		return nil, err
	}
	objs := p.objects
	if p.live != nil {
		if objs, err = withLive(p.ctx, p.live, objs); err != nil {
			return nil, err
		}
	}
	out := &bytes.Buffer{}
	var theirs, ours []string
	write := func(o *unstructured.Unstructured) error {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", objects.RefOf(o), err)
		}
		out.WriteString("---\n")
		out.Write(data)
		return nil
	}
	for _, o := range rendered {
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
			if err := write(o.Unstructured); err != nil {
				return nil, err
			}
			continue
		}
		theirs = append(theirs, objects.RefOf(o.Unstructured).String())
	}
	for _, o := range objs {
		ours = append(ours, objects.RefOf(o).String())
		if err := write(o); err != nil {
			return nil, err
		}
	}
	slices.Sort(theirs)
	slices.Sort(ours)
	if !slices.Equal(theirs, ours) {
		return nil, fmt.Errorf("helm rendered objects %v, the plan %v: the chart renders differently against the cluster", theirs, ours)
	}
	return out, nil
}
