package release

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// checkReferencedSecrets fails before anything is applied when a Secret the
// chart reads a key of neither comes with the environment nor exists, or
// lacks that key (the pods would never start). Values are never read out.
// With secrets.generate, a Secret that does not exist at all is no error: it
// is returned (name -> the keys read of it) to be generated.
func checkReferencedSecrets(ctx context.Context, c client.Client, p *Plan) (map[string][]string, error) {
	provided := map[string]map[string]bool{}
	for _, s := range p.Secrets {
		provided[s.GetName()] = secretKeys(s)
	}
	ns := p.Env.Release.Namespace
	var missing []error
	generate := map[string][]string{}
	refs := referencedSecrets(p)
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		keys, ok := provided[name]
		where := p.Env.Name + ".secrets.yaml"
		if !ok {
			var live corev1.Secret
			err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &live)
			if apierrors.IsNotFound(err) {
				if p.Env.Secrets.Generate {
					generate[name] = slices.Sorted(maps.Keys(refs[name]))
					continue
				}
				missing = append(missing, fmt.Errorf("secret %s/%s (used by %s) does not exist (hint: add it to %s or create it)",
					ns, name, refs[name][slices.Sorted(maps.Keys(refs[name]))[0]], where))
				continue
			} else if err != nil {
				return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
			}
			keys, where = map[string]bool{}, "the Secret"
			for k := range live.Data {
				keys[k] = true
			}
			for k := range live.StringData {
				keys[k] = true
			}
		}
		for _, key := range slices.Sorted(maps.Keys(refs[name])) {
			if !keys[key] {
				missing = append(missing, fmt.Errorf("secret %s/%s has no key %q (used by %s; it has %s) (hint: add %q to %s)",
					ns, name, key, refs[name][key], keyList(keys), key, where))
			}
		}
	}
	return generate, errors.Join(missing...)
}

// secretKeys lists the keys a Secret (or the Secret an ExternalSecret makes) holds.
func secretKeys(u *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	if u.GetKind() == "ExternalSecret" {
		entries, _, _ := unstructured.NestedSlice(u.Object, "spec", "data")
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				if k, _ := m["secretKey"].(string); k != "" {
					out[k] = true
				}
			}
		}
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedMap(u.Object, field)
		for k := range m {
			out[k] = true
		}
	}
	return out
}

func keyList(keys map[string]bool) string {
	if len(keys) == 0 {
		return "no keys"
	}
	return "keys " + strings.Join(slices.Sorted(maps.Keys(keys)), ", ")
}

// SecretKey is one key of a Secret that a plan's objects read or its
// secrets provide.
type SecretKey struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
	// From says where the value comes from: "secrets file", "external
	// store", "existing Secret" (possibly "or generated"), or that it is
	// missing from what the environment provides.
	From string `json:"from"`
	// UsedBy names the first object that reads it ("" when none does).
	UsedBy string `json:"usedBy"`
	// Fingerprint identifies a value from the secrets file (never the
	// value itself); "" otherwise.
	Fingerprint string `json:"fingerprint"`
}

// SecretKeys lists, sorted, every Secret key the plan's objects read and
// every key its secrets provide, with where each comes from. It is worked
// out offline: a key read from an existing Secret is not checked here
// (install checks it against the cluster).
func (p *Plan) SecretKeys() []SecretKey {
	provided := map[string]*unstructured.Unstructured{}
	for _, s := range p.Secrets {
		provided[s.GetName()] = s
	}
	refs := referencedSecrets(p)
	names := map[string]map[string]bool{}
	for name, keys := range refs {
		names[name] = map[string]bool{}
		for k := range keys {
			names[name][k] = true
		}
	}
	for name, s := range provided {
		if names[name] == nil {
			names[name] = map[string]bool{}
		}
		maps.Copy(names[name], secretKeys(s))
	}
	out := []SecretKey{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		for _, key := range slices.Sorted(maps.Keys(names[name])) {
			k := SecretKey{Secret: name, Key: key, UsedBy: refs[name][key]}
			switch s := provided[name]; {
			case s == nil && p.Env.Secrets.Generate:
				k.From = "existing Secret or generated"
			case s == nil:
				k.From = "existing Secret"
			case !secretKeys(s)[key]:
				k.From = "missing from " + p.Env.Name + ".secrets.yaml"
				if s.GetKind() == "ExternalSecret" {
					k.From = "missing from the external store's mapping"
				}
			case s.GetKind() == "ExternalSecret":
				k.From = "external store"
			default:
				k.From = "secrets file"
				if v, _, _ := unstructured.NestedString(s.Object, "data", key); v != "" {
					if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
						k.Fingerprint = envconfig.Fingerprint(raw)
					}
				}
			}
			out = append(out, k)
		}
	}
	return out
}

// referencedSecrets maps each Secret name and key read through secretKeyRef
// by a rendered object to that object's kind and name.
func referencedSecrets(p *Plan) map[string]map[string]string {
	out := map[string]map[string]string{}
	var walk func(owner string, v any)
	walk = func(owner string, v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["secretKeyRef"].(map[string]any); ok {
				name, _ := ref["name"].(string)
				key, _ := ref["key"].(string)
				if name != "" && key != "" && ref["optional"] != true {
					if out[name] == nil {
						out[name] = map[string]string{}
					}
					if _, seen := out[name][key]; !seen {
						out[name][key] = owner
					}
				}
			}
			for _, e := range t {
				walk(owner, e)
			}
		case []any:
			for _, e := range t {
				walk(owner, e)
			}
		}
	}
	for _, o := range p.Objects {
		walk(o.GetKind()+" "+o.GetName(), o.Object)
	}
	return out
}
