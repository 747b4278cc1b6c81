package release

import (
	"bytes"
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// keepColorSelector copies the color the Rollout controller
// put into a live Service's selector into the desired Service, replacing any
// color the desired one carries (a release manifest records the color of
// the moment it was applied). The controller owns that key; a Service's
// selector is atomic, so applying a selector without the live color would
// point the Service at both colors, or the wrong one, until the controller
// switched it back.
func keepColorSelector(desired, live *unstructured.Unstructured) {
	if desired.GetKind() != "Service" || desired.GroupVersionKind().Group != "" || live == nil {
		return
	}
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

// colorPostRenderer applies keepColorSelector to Helm's rendered
// manifests before Helm applies them.
type colorPostRenderer struct {
	ctx  context.Context
	live *objects.Live
}

func (r colorPostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := render.DecodeAll("manifest", in.String())
	if err != nil {
		return nil, err
	}
	out := &bytes.Buffer{}
	for _, o := range objs {
		live, err := r.live.Get(r.ctx, objects.RefOf(o.Unstructured))
		if err != nil {
			return nil, err
		}
		keepColorSelector(o.Unstructured, live)
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", objects.RefOf(o.Unstructured), err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out, nil
}
