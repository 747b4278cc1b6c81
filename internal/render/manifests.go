package render

import (
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Manifests groups rendered objects into one YAML file per component, for
// `kubectl apply -f deploy/kubernetes/<env>/`: api.yaml, postgresql.yaml,
// redis.yaml, chromadb.yaml, network-policies.yaml (and so on by the
// app.kubernetes.io/name label).
func Manifests(objs []Object) (map[string][]byte, error) {
	files := map[string]*strings.Builder{}
	for _, o := range objs {
		name := o.GetLabels()["app.kubernetes.io/name"]
		switch {
		case o.GetKind() == "NetworkPolicy":
			name = "network-policies"
		case name == "agentic-rag":
			name = "api"
		case name == "":
			name = "other"
		}
		b, ok := files[name+".yaml"]
		if !ok {
			b = &strings.Builder{}
			b.WriteString("# Rendered from charts/agentic-rag by `make manifests`; do not edit.\n")
			files[name+".yaml"] = b
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n# Source: " + o.Template + "\n")
		b.Write(data)
	}
	out := make(map[string][]byte, len(files))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out[n] = []byte(files[n].String())
	}
	return out, nil
}
