package render_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func renderSubchart(t *testing.T, name string, values map[string]any) ([]render.Object, error) {
	t.Helper()
	c, err := render.LoadChart(charts.FS, "agentic-rag/charts/"+name)
	if err != nil {
		t.Fatal(err)
	}
	// The parent chart carries the library its subcharts share (its
	// templates are global to the chart tree); alone, a subchart gets them
	// here.
	lib, err := render.LoadChart(charts.FS, "agentic-rag/charts/datastore")
	if err != nil {
		t.Fatal(err)
	}
	c.Templates = append(c.Templates, lib.Templates...)
	return render.Render(context.Background(), c, render.Release{Name: "rag", Namespace: "shop"}, values)
}

// Each stateful subchart renders a StatefulSet whose claims are retained,
// sized by the size preset, with a restricted pod, probes, requests and
// limits, and credentials only from an existing Secret.
func TestStatefulSubcharts(t *testing.T) {
	tests := []struct {
		chart string
		// probe is the readiness probe's command or path.
		probe string
		// storage is the claim size of the "medium" preset.
		storage string
	}{
		{"postgresql", "pg_isready", "20Gi"},
		{"redis", "ping", "4Gi"},
		{"chromadb", "/api/v2/heartbeat", "20Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.chart, func(t *testing.T) {
			objs, err := renderSubchart(t, tt.chart, map[string]any{
				"size": "medium",
				"auth": map[string]any{"existingSecret": "rag-credentials"},
			})
			if err != nil {
				t.Fatal(err)
			}
			sts := find(objs, "StatefulSet")
			if len(sts) != 1 || len(find(objs, "Service")) != 2 {
				t.Fatalf("rendered %d StatefulSets and %d Services; want 1 and 2 (headless and client)", len(sts), len(find(objs, "Service")))
			}
			o := sts[0].Object
			for _, f := range []string{"whenDeleted", "whenScaled"} {
				if v, _, _ := unstructured.NestedString(o, "spec", "persistentVolumeClaimRetentionPolicy", f); v != "Retain" {
					t.Errorf("retention %s = %q; want Retain", f, v)
				}
			}
			claims, _, _ := unstructured.NestedSlice(o, "spec", "volumeClaimTemplates")
			if got, _, _ := unstructured.NestedString(claims[0].(map[string]any), "spec", "resources", "requests", "storage"); got != tt.storage {
				t.Errorf("claim size %q; want %s for the medium preset", got, tt.storage)
			}
			pod, _, _ := unstructured.NestedMap(o, "spec", "template", "spec")
			if nonRoot, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !nonRoot {
				t.Error("pod may run as root")
			}
			containers, _, _ := unstructured.NestedSlice(pod, "containers")
			c := containers[0].(map[string]any)
			for _, f := range [][]string{{"resources", "requests", "memory"}, {"resources", "limits", "cpu"}, {"livenessProbe"}, {"readinessProbe"}} {
				if _, ok, _ := unstructured.NestedFieldNoCopy(c, f...); !ok {
					t.Errorf("container lacks %s", strings.Join(f, "."))
				}
			}
			if ro, _, _ := unstructured.NestedBool(c, "securityContext", "readOnlyRootFilesystem"); !ro {
				t.Error("root filesystem is writable")
			}
			if readiness := strings.Join(strings.Fields(fmtJSON(c["readinessProbe"])), " "); !strings.Contains(readiness, tt.probe) {
				t.Errorf("readiness probe %s does not use %s", readiness, tt.probe)
			}
			if !strings.Contains(fmtJSON(c["env"]), "rag-credentials") {
				t.Error("credentials do not come from the existing Secret")
			}
		})
	}
}

func TestStatefulSubchartsRejectBadValues(t *testing.T) {
	tests := []struct {
		name, chart string
		values      map[string]any
		// want is a substring of the error: the field path or the hint.
		want string
	}{
		{"missing secret reference", "postgresql", nil, "existingSecret"},
		{"unknown size", "redis", map[string]any{"size": "huge", "auth": map[string]any{"existingSecret": "s"}}, "size"},
		{"typo in persistence", "chromadb", map[string]any{"persistentVolume": map[string]any{}, "auth": map[string]any{"existingSecret": "s"}}, "persistentVolume"},
		{"bad storage size", "postgresql", map[string]any{"persistence": map[string]any{"size": "lots"}, "auth": map[string]any{"existingSecret": "s"}}, "persistence/size"},
		{"port out of range", "redis", map[string]any{"port": 70000, "auth": map[string]any{"existingSecret": "s"}}, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderSubchart(t, tt.chart, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("render error %v; want one naming %q", err, tt.want)
			}
		})
	}
}
