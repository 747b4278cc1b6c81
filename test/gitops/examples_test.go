// Package gitops checks examples/gitops: every object applies server-side,
// with strict field validation, to the real Flux and Argo CD CRDs (taken
// from those projects' Go modules at pinned versions), and every name an
// example refers to (paths, namespaces, health-checked objects, the Services
// whose selectors the controller owns) exists in this repository.
package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/crds"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// crdModules are the Go modules whose source holds the CRDs the examples
// are written against, at the versions the examples target.
var crdModules = []struct {
	module, version string
	files           []string
}{
	{"github.com/fluxcd/source-controller", "v1.9.6", []string{"config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml"}},
	{"github.com/fluxcd/kustomize-controller", "v1.9.6", []string{"config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"}},
	{"github.com/argoproj/argo-cd/v3", "v3.5.7", []string{
		"manifests/crds/application-crd.yaml",
		"manifests/crds/applicationset-crd.yaml",
		"manifests/crds/appproject-crd.yaml",
	}},
}

const examplesDir = "../../examples/gitops"

// moduleDir downloads a module into the module cache (outside any module,
// so this repository's go.mod is untouched) and returns its directory.
func moduleDir(t *testing.T, module, version string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version) //nolint:gosec // G204: pinned module, arguments as a list
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var got struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &got); jerr != nil || got.Error != "" || got.Dir == "" {
		t.Fatalf("go mod download %s@%s: %v %s %s", module, version, err, got.Error, out)
	}
	return got.Dir
}

// object is one decoded document and the file it came from.
type object struct {
	file string
	*unstructured.Unstructured
}

// decodeDir decodes every document of every .yaml file under dir.
func decodeDir(t *testing.T, dir string) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(path) //nolint:gosec // G122: walks the repository's own example and manifest files
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, object{file: path, Unstructured: u})
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func ofKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// Every example applies to the real CRDs, with unknown fields refused, and
// the same check refuses a misspelled field and a wrong version.
func TestExamplesApplyToTheRealCRDs(t *testing.T) {
	env := clustertest.New(t)
	ctx := context.Background()
	docs := map[string][]byte{}
	for _, m := range crdModules {
		dir := moduleDir(t, m.module, m.version)
		for _, f := range m.files {
			data, err := os.ReadFile(filepath.Join(dir, f)) //nolint:gosec // G304: a pinned module's CRD
			if err != nil {
				t.Fatal(err)
			}
			docs[m.module+"@"+m.version+"/"+f] = data
		}
	}
	if err := crds.Apply(ctx, env.Config, docs); err != nil {
		t.Fatal(err)
	}
	// Flux and Argo CD create their own namespaces when installed.
	for _, ns := range []string{"flux-system", "argocd"} {
		if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))
	apply := func(u *unstructured.Unstructured) error {
		mapping, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
		if err != nil {
			return err
		}
		body, err := json.Marshal(u.Object)
		if err != nil {
			return err
		}
		var r dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			r = dyn.Resource(mapping.Resource).Namespace(u.GetNamespace())
		}
		force := true
		_, err = r.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: "ragdeploy-examples", Force: &force, FieldValidation: metav1.FieldValidationStrict,
		})
		return err
	}

	objs := decodeDir(t, examplesDir)
	// Namespaces first, as Flux and Argo CD order them.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace" })
	kinds := map[string]int{}
	for _, o := range objs {
		if err := apply(o.Unstructured); err != nil {
			t.Errorf("%s: %s %s: %v", o.file, o.GetKind(), o.GetName(), err)
		}
		kinds[o.GetKind()]++
	}
	want := map[string]int{"Namespace": 3, "GitRepository": 1, "Kustomization": 3, "AppProject": 1, "Application": 3, "ApplicationSet": 1, "ConfigMap": 1}
	if !maps.Equal(kinds, want) {
		t.Errorf("applied %v; want %v", kinds, want)
	}

	// The check itself catches the typos it is for.
	k := ofKind(objs, "Kustomization")[0].DeepCopy()
	k.Object["spec"].(map[string]any)["healthCheck"] = k.Object["spec"].(map[string]any)["healthChecks"]
	if err := apply(k); err == nil || !strings.Contains(err.Error(), ".spec.healthCheck: field not declared in schema") {
		t.Errorf("a misspelled field applied: %v", err)
	}
	a := ofKind(objs, "Application")[0].DeepCopy()
	a.SetAPIVersion("argoproj.io/v1beta1")
	if err := apply(a); !meta.IsNoMatchError(err) {
		t.Errorf("an Application of a version Argo CD does not serve: %v; want no match", err)
	}
}

// only is the one object of kind in objs; it fails the test unless there
// is exactly one.
func only(t *testing.T, objs []object, kind string) object {
	t.Helper()
	of := ofKind(objs, kind)
	if len(of) != 1 {
		t.Fatalf("%d objects of kind %s; want 1", len(of), kind)
	}
	return of[0]
}

// environments are the names of environments/<env>.yaml and their
// namespaces.
func environments(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../environments/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.Contains(name, ".") { // production.secrets.yaml
			continue
		}
		e, err := envconfig.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		envs[name] = e.Release.Namespace
	}
	return envs
}

// manifests are an environment's rendered objects, keyed kind/namespace/name.
func manifests(t *testing.T, env string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, o := range decodeDir(t, filepath.Join("../../deploy/kubernetes", env)) {
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o.Unstructured
	}
	if len(out) == 0 {
		t.Fatalf("deploy/kubernetes/%s holds no objects", env)
	}
	return out
}

// controllerServices are the Services whose selectors a rollout in objs
// owns: its active and preview Services.
func controllerServices(objs map[string]*unstructured.Unstructured) []string {
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Rollout" {
			continue
		}
		for _, f := range []string{"activeService", "previewService"} {
			if n, _, _ := unstructured.NestedString(o.Object, "spec", f); n != "" {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

func str(t *testing.T, o map[string]any, fields ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(o, fields...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, o map[string]any, fields ...string) []map[string]any {
	t.Helper()
	l, _, err := unstructured.NestedSlice(o, fields...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		out = append(out, e.(map[string]any))
	}
	return out
}

// Each Flux Kustomization covers one environment, health-checks objects
// that environment's manifests hold, and leaves exactly the Services whose
// selectors the controller owns to the controller.
func TestFluxExamplesNameWhatExists(t *testing.T) {
	envs := environments(t)
	objs := decodeDir(t, filepath.Join(examplesDir, "flux"))
	repo := only(t, objs, "GitRepository")
	namespaces := map[string]bool{}
	for _, n := range ofKind(objs, "Namespace") {
		namespaces[n.GetName()] = true
	}
	seen := map[string]bool{}
	for _, k := range ofKind(objs, "Kustomization") {
		if ref := str(t, k.Object, "spec", "sourceRef", "name"); ref != repo.GetName() || str(t, k.Object, "spec", "sourceRef", "kind") != "GitRepository" {
			t.Errorf("%s: sourceRef %s; want GitRepository %s", k.file, ref, repo.GetName())
		}
		path := str(t, k.Object, "spec", "path")
		env := strings.TrimPrefix(path, "./deploy/kubernetes/")
		ns, ok := envs[env]
		if !ok || env == path {
			t.Errorf("%s: path %s is not ./deploy/kubernetes/<env> of an environment in %v", k.file, path, envs)
			continue
		}
		seen[env] = true
		if !namespaces[ns] {
			t.Errorf("%s: no Namespace %s for %s", k.file, ns, env)
		}
		live := manifests(t, env)
		checked := map[string]bool{}
		for _, h := range list(t, k.Object, "spec", "healthChecks") {
			key := h["kind"].(string) + "/" + h["namespace"].(string) + "/" + h["name"].(string)
			o, ok := live[key]
			if !ok || o.GetAPIVersion() != h["apiVersion"] {
				t.Errorf("%s: health check %s (%s) names nothing in deploy/kubernetes/%s", k.file, key, h["apiVersion"], env)
			}
			checked[h["kind"].(string)+"/"+h["name"].(string)] = true
		}
		for key, o := range live {
			switch o.GetKind() {
			case "Rollout", "Deployment", "StatefulSet":
				if !checked[o.GetKind()+"/"+o.GetName()] {
					t.Errorf("%s: %s is not health-checked", k.file, key)
				}
			}
		}
		var leftAlone []string
		for _, p := range list(t, k.Object, "spec", "patches") {
			target := p["target"].(map[string]any)
			if !strings.Contains(p["patch"].(string), "kustomize.toolkit.fluxcd.io~1ssa") || !strings.Contains(p["patch"].(string), "IfNotPresent") {
				t.Errorf("%s: patch %v is not the ssa: IfNotPresent annotation", k.file, target)
			}
			if _, ok := live[target["kind"].(string)+"/"+ns+"/"+target["name"].(string)]; !ok || target["kind"] != "Service" {
				t.Errorf("%s: patch target %v names no Service in deploy/kubernetes/%s", k.file, target, env)
			}
			leftAlone = append(leftAlone, target["name"].(string))
		}
		slices.Sort(leftAlone)
		if want := controllerServices(live); !slices.Equal(leftAlone, want) {
			t.Errorf("%s: Services left to the controller %v; the rollout owns %v", k.file, leftAlone, want)
		}
	}
	if len(seen) != len(envs) {
		t.Errorf("Kustomizations cover %v; environments are %v", seen, envs)
	}
}

// ignoredSelectors are the Services whose /spec/selector an Application
// leaves alone.
func ignoredSelectors(t *testing.T, spec map[string]any) []string {
	t.Helper()
	var names []string
	for _, d := range list(t, spec, "ignoreDifferences") {
		if d["kind"] == "Service" && slices.Equal(d["jsonPointers"].([]any), []any{"/spec/selector"}) {
			names = append(names, d["name"].(string))
		}
	}
	slices.Sort(names)
	return names
}

// Each Argo CD Application covers one environment in its namespace, inside
// the project, leaving to the controller exactly the Services it owns; the
// ApplicationSet generates the same Applications.
func TestArgoCDExamplesNameWhatExists(t *testing.T) {
	envs := environments(t)
	objs := decodeDir(t, filepath.Join(examplesDir, "argocd"))
	project := only(t, objs, "AppProject")
	destinations := map[string]bool{}
	for _, d := range list(t, project.Object, "spec", "destinations") {
		destinations[d["namespace"].(string)] = true
	}
	apps := map[string]map[string]any{}
	for _, a := range ofKind(objs, "Application") {
		path := str(t, a.Object, "spec", "source", "path")
		env := strings.TrimPrefix(path, "deploy/kubernetes/")
		ns, ok := envs[env]
		if !ok || env == path {
			t.Errorf("%s: path %s is not deploy/kubernetes/<env> of an environment in %v", a.file, path, envs)
			continue
		}
		if got := str(t, a.Object, "spec", "destination", "namespace"); got != ns || !destinations[ns] {
			t.Errorf("%s: destination %s; want %s, a destination of the project", a.file, got, ns)
		}
		if got := str(t, a.Object, "spec", "project"); got != project.GetName() {
			t.Errorf("%s: project %s; want %s", a.file, got, project.GetName())
		}
		if got, want := ignoredSelectors(t, a.Object["spec"].(map[string]any)), controllerServices(manifests(t, env)); !slices.Equal(got, want) {
			t.Errorf("%s: selectors left to the controller %v; the rollout owns %v", a.file, got, want)
		}
		apps[a.GetName()] = a.Object
	}
	if len(apps) != len(envs) {
		t.Errorf("Applications %d; environments %v", len(apps), envs)
	}

	generated := generate(t, only(t, objs, "ApplicationSet").Object)
	if len(generated) != len(apps) {
		t.Errorf("the ApplicationSet generates %d Applications; want %d", len(generated), len(apps))
	}
	for _, g := range generated {
		name := str(t, g, "metadata", "name")
		a, ok := apps[name]
		if !ok {
			t.Errorf("the ApplicationSet generates %s, which has no application-<env>.yaml", name)
			continue
		}
		if want, got := mustJSON(t, a["spec"]), mustJSON(t, g["spec"]); want != got {
			t.Errorf("ApplicationSet's %s spec:\n%s\nwant (application file):\n%s", name, got, want)
		}
		if want, got := mustJSON(t, a["metadata"].(map[string]any)["finalizers"]), mustJSON(t, g["metadata"].(map[string]any)["finalizers"]); want != got {
			t.Errorf("ApplicationSet's %s finalizers %s; want %s", name, got, want)
		}
	}
}

// generate expands a list-generator ApplicationSet as Argo CD does with
// goTemplate: the template and its templatePatch are Go templates over each
// element (missing keys are errors), the patch merged into the template.
func generate(t *testing.T, set map[string]any) []map[string]any {
	t.Helper()
	tmpl, err := yaml.Marshal(set["spec"].(map[string]any)["template"])
	if err != nil {
		t.Fatal(err)
	}
	patch := str(t, set, "spec", "templatePatch")
	var out []map[string]any
	for _, gen := range list(t, set, "spec", "generators") {
		for _, e := range gen["list"].(map[string]any)["elements"].([]any) {
			app := mustJSONBytes(t, expand(t, string(tmpl), e))
			if patch != "" {
				if app, err = jsonpatch.MergePatch(app, mustJSONBytes(t, expand(t, patch, e))); err != nil {
					t.Fatal(err)
				}
			}
			var m map[string]any
			if err := json.Unmarshal(app, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

func expand(t *testing.T, text string, data any) []byte {
	t.Helper()
	tpl, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustJSONBytes(t *testing.T, y []byte) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%v in:\n%s", err, y)
	}
	return j
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
