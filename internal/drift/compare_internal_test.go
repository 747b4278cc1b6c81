package drift

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

func TestCoversAndCompare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		live, want map[string]any
		// covered is whether live holds every field of want.
		covered bool
		// paths are the changes compare reports.
		paths []string
	}{
		{"quantities by value", map[string]any{"cpu": "1", "mem": "1Gi"}, map[string]any{"cpu": "1000m", "mem": "1024Mi"}, true, nil},
		{"numbers by value", map[string]any{"n": int64(3)}, map[string]any{"n": float64(3)}, true, nil},
		{"extra live fields are fine", map[string]any{"a": "x", "b": "y"}, map[string]any{"a": "x"}, true, []string{"/b"}},
		{"changed value", map[string]any{"a": "x"}, map[string]any{"a": "z"}, false, []string{"/a"}},
		{"missing field", map[string]any{}, map[string]any{"a": "x"}, false, []string{"/a"}},
		{"list length", map[string]any{"l": []any{"a"}}, map[string]any{"l": []any{"a", "b"}}, false, []string{"/l"}},
		{"list element", map[string]any{"l": []any{map[string]any{"image": "a:1"}}}, map[string]any{"l": []any{map[string]any{"image": "a:2"}}}, false, []string{"/l/0/image"}},
		{"pointer escaping", map[string]any{"ann": map[string]any{"checksum/config": "1"}}, map[string]any{"ann": map[string]any{"checksum/config": "2"}}, false, []string{"/ann/checksum~1config"}},
		{"strings that are not quantities", map[string]any{"s": "abc"}, map[string]any{"s": "abd"}, false, []string{"/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := covers(tc.live, tc.want); got != tc.covered {
				t.Errorf("covers = %t; want %t", got, tc.covered)
			}
			ref := objects.Ref{GroupVersionKind: schema.GroupVersionKind{Kind: "ConfigMap"}, Name: "x"}
			changes := compare(ref, &unstructured.Unstructured{Object: tc.live}, &unstructured.Unstructured{Object: tc.want}, nil)
			var paths []string
			for _, c := range changes {
				paths = append(paths, c.Path)
			}
			if len(paths) != len(tc.paths) || (len(paths) > 0 && paths[0] != tc.paths[0]) {
				t.Errorf("changes %v; want %v", paths, tc.paths)
			}
		})
	}
}
