package render_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func renderController(t *testing.T, values map[string]any) ([]render.Object, error) {
	t.Helper()
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		t.Fatal(err)
	}
	return render.Render(context.Background(), c, render.Release{Name: "ragdeploy", Namespace: "ragdeploy-system"}, values)
}

func find(objs []render.Object, kind string) []render.Object {
	var out []render.Object
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func TestControllerChartDefaults(t *testing.T) {
	objs, err := renderController(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	want := map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "Deployment": 1, "PodDisruptionBudget": 1, "Service": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s rendered; want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	dep := find(objs, "Deployment")[0]
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	if nonRoot, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !nonRoot {
		t.Error("controller pod may run as root")
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	c := containers[0].(map[string]any)
	for _, f := range [][]string{{"resources", "requests", "cpu"}, {"resources", "limits", "memory"}, {"livenessProbe", "httpGet", "path"}, {"readinessProbe", "httpGet", "path"}} {
		if _, ok, _ := unstructured.NestedFieldNoCopy(c, f...); !ok {
			t.Errorf("controller container lacks %s", strings.Join(f, "."))
		}
	}
	if esc, _, _ := unstructured.NestedBool(c, "securityContext", "allowPrivilegeEscalation"); esc {
		t.Error("privilege escalation allowed")
	}
	if img := c["image"]; img != "agentic-rag/ragdeploy:0.1.0" {
		t.Errorf("image %v; want the appVersion tag", img)
	}
	// Least privilege: no rule anywhere mentions Secrets or wildcards.
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, r := range find(objs, kind) {
			rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
			for _, rule := range rules {
				text := fmt.Sprint(rule)
				if strings.Contains(text, "secrets") || strings.Contains(text, "*") {
					t.Errorf("%s %s grants %s", kind, r.GetName(), text)
				}
			}
		}
	}
}

func TestControllerChartImageDigestAndNamespace(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	objs, err := renderController(t, map[string]any{
		"image":          map[string]any{"registry": "mirror.example.com", "repository": "agentic-rag/ragdeploy", "digest": digest},
		"watchNamespace": "shop",
		"replicas":       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	dep := find(objs, "Deployment")[0]
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "mirror.example.com/agentic-rag/ragdeploy@"+digest {
		t.Errorf("image %v; want the registry override and the digest", img)
	}
	if len(find(objs, "ClusterRole")) != 0 || len(find(objs, "PodDisruptionBudget")) != 0 {
		t.Error("watchNamespace and one replica should render a namespaced Role and no PDB")
	}
	roles := find(objs, "Role")
	if len(roles) != 2 || roles[0].GetNamespace() == roles[1].GetNamespace() {
		t.Errorf("want a Role in shop and a leader-election Role in the release namespace, got %d", len(roles))
	}
}

func TestControllerChartRejectsBadValues(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		// wantPath names the offending field in the error.
		wantPath string
	}{
		{"unknown key (the old name of replicas)", map[string]any{"replicaCount": 2}, "replicaCount"},
		{"wrong type", map[string]any{"replicas": "two"}, "replicas"},
		{"zero replicas", map[string]any{"replicas": 0}, "replicas"},
		{"bad digest", map[string]any{"image": map[string]any{"repository": "x", "digest": "latest"}}, "image/digest"},
		{"bad pull policy", map[string]any{"image": map[string]any{"repository": "x", "pullPolicy": "Sometimes"}}, "image/pullPolicy"},
		{"typo in nested key", map[string]any{"metrics": map[string]any{"enable": true}}, "metrics"},
		{"missing limits", map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}, "limits": nil}}, "resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderController(t, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.wantPath) {
				t.Fatalf("render error %v; want a schema error naming %s", err, tt.wantPath)
			}
		})
	}
}

func fmtJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
