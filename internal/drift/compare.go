package drift

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// Change is one field that differs, at a JSON pointer.
type Change struct {
	Path    string `json:"path"`
	Live    any    `json:"live,omitempty"`
	Desired any    `json:"desired,omitempty"`
}

// volatile are metadata fields the API server owns; they differ between a
// dry-run result and the stored object without anyone changing anything.
var volatile = []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink"}

// normalize drops status and server-owned metadata.
func normalize(u *unstructured.Unstructured) map[string]any {
	obj := u.DeepCopy().Object
	delete(obj, "status")
	for _, f := range volatile {
		unstructured.RemoveNestedField(obj, "metadata", f)
	}
	return obj
}

// compare lists the fields where live differs from predicted, minus ignored
// pointers. Quantities compare by value (1000m == 1), numbers by value.
func compare(ref objects.Ref, live, predicted *unstructured.Unstructured, ignore []objects.IgnoreRule) []Change {
	var out []Change
	walk("", normalize(live), normalize(predicted), &out)
	kept := out[:0]
	for _, c := range out {
		if !ignored(ignore, ref, c.Path) {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	return kept
}

func ignored(rules []objects.IgnoreRule, ref objects.Ref, pointer string) bool {
	for _, r := range rules {
		if r.Matches(ref, pointer) {
			return true
		}
	}
	return false
}

func walk(ptr string, live, want any, out *[]Change) {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range l {
			keys[k] = true
		}
		for k := range keys {
			walk(ptr+"/"+escape(k), l[k], w[k], out)
		}
		return
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			break
		}
		for i := range w {
			walk(fmt.Sprintf("%s/%d", ptr, i), l[i], w[i], out)
		}
		return
	}
	if !equalScalar(live, want) {
		*out = append(*out, Change{Path: ptr, Live: live, Desired: want})
	}
}

func equalScalar(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			return fa == fb
		}
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		qa, errA := resource.ParseQuantity(sa)
		qb, errB := resource.ParseQuantity(sb)
		return errA == nil && errB == nil && qa.Cmp(qb) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// covers reports whether every field of want is in live with an equal value
// (lists element by element). When the desired object is the one last
// applied, its fields are exactly the fields its manager owns, so a covered
// object cannot change under a re-apply: it is in sync without asking the
// API server.
func covers(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			lv, present := l[k]
			if !present || !covers(lv, v) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !covers(l[i], w[i]) {
				return false
			}
		}
		return true
	}
	return equalScalar(live, want)
}
