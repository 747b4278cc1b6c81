// Package render turns a Helm chart and values into Kubernetes objects with
// the Helm v4 SDK, as `helm template` would, without touching a cluster.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/ignore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// LoadChart loads the chart in directory dir of fsys (an embedded FS or
// os.DirFS), subcharts included, leaving out what its .helmignore lists, as
// helm package and helm install of a directory do.
func LoadChart(fsys fs.FS, dir string) (*chart.Chart, error) {
	rules := ignore.Empty()
	if data, err := fs.ReadFile(fsys, path.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", dir, ignore.HelmIgnore, err)
		}
	}
	rules.AddDefaults()
	var files []*archive.BufferedFile
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		info, err := d.Info()
		if err != nil {
			return err
		}
		if rules.Ignore(rel, info) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	return c, nil
}

// Release names the release a chart is rendered for.
type Release struct {
	Name      string
	Namespace string
}

// Object is one rendered object and the template it came from.
type Object struct {
	Template string
	*unstructured.Unstructured
}

// Render validates values against the chart's schema and renders it. Hooks
// and NOTES.txt are left out; objects come sorted by template, kind and name.
func Render(ctx context.Context, c *chart.Chart, rel Release, values map[string]any) ([]Object, error) {
	vals, err := util.ToRenderValuesWithSchemaValidation(c, values,
		common.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true},
		common.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(ctx, c, vals)
	if err != nil {
		return nil, err
	}
	var out []Object
	for name, content := range files {
		if path.Base(name) == "NOTES.txt" || strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		objs, err := Decode(name, content)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Template != b.Template {
			return a.Template < b.Template
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		return a.GetName() < b.GetName()
	})
	return out, nil
}

// Decode splits a rendered template (or a release manifest) into objects,
// leaving hooks out.
func Decode(template, content string) ([]Object, error) {
	all, err := DecodeAll(template, content)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if _, hook := o.GetAnnotations()["helm.sh/hook"]; !hook {
			out = append(out, o)
		}
	}
	return out, nil
}

// DecodeAll splits a rendered template into objects, hooks included.
func DecodeAll(template, content string) ([]Object, error) {
	var out []Object
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(content), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", template, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("%s: object without apiVersion and kind", template)
		}
		out = append(out, Object{Template: template, Unstructured: u})
	}
}
