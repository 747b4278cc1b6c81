package drift

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// SecretFingerprints is what the Secrets ragdeploy owns must hold, by
// Secret name and key, as value fingerprints: enough to find drift without
// knowing a value (so the controller, which holds no decryption key, checks
// them exactly as the CLI does).
type SecretFingerprints map[string]map[string]string

// FingerprintsOf takes the fingerprints of Secret objects (their data);
// objects of other kinds are left out.
func FingerprintsOf(secrets []*unstructured.Unstructured) (SecretFingerprints, error) {
	out := SecretFingerprints{}
	for _, s := range secrets {
		if s.GetKind() != "Secret" || s.GroupVersionKind().Group != "" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(s.Object, "data")
		keys := map[string]string{}
		for k, v := range data {
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("secret %s: key %s: %w", s.GetName(), k, err)
			}
			keys[k] = envconfig.Fingerprint(raw)
		}
		out[s.GetName()] = keys
	}
	return out, nil
}

// CheckSecrets compares the live Secrets in namespace ns with the
// fingerprints: a missing Secret, a key whose value differs, a missing key
// and a key that should not be there are all drift (ragdeploy owns these
// Secrets whole); ignore rules apply as to any object. Reports carry
// fingerprints only.
func CheckSecrets(ctx context.Context, c client.Client, ns string, want SecretFingerprints, ignore []objects.IgnoreRule) ([]Object, error) {
	var out []Object
	for _, name := range slices.Sorted(maps.Keys(want)) {
		ref := objects.Ref{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("Secret"), Namespace: ns, Name: name}
		obj := Object{Ref: ref, Kind: "Secret", Object: ref.String(), State: InSync}
		var live corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &live)
		switch {
		case apierrors.IsNotFound(err):
			obj.State = Missing
			out = append(out, obj)
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		keys := map[string]bool{}
		for k := range want[name] {
			keys[k] = true
		}
		for k := range live.Data {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			path := "/data/" + escape(k)
			if slices.ContainsFunc(ignore, func(r objects.IgnoreRule) bool { return r.Matches(ref, path) }) {
				continue
			}
			desired, wanted := want[name][k]
			value, present := live.Data[k]
			var got any
			if present {
				got = envconfig.Fingerprint(value)
			}
			switch {
			case wanted && !present:
				obj.Changes = append(obj.Changes, Change{Path: path, Desired: desired})
			case !wanted:
				obj.Changes = append(obj.Changes, Change{Path: path, Live: got})
			case got != desired:
				obj.Changes = append(obj.Changes, Change{Path: path, Live: got, Desired: desired})
			}
		}
		if len(obj.Changes) > 0 {
			obj.State = Drifted
			out = append(out, obj)
		}
	}
	return out, nil
}

// Merge adds the objects of another check to a report, in the report's order.
func (r *Report) Merge(checked int, objs []Object) {
	r.Checked += checked
	r.Objects = append(r.Objects, objs...)
	sort.Slice(r.Objects, func(i, j int) bool { return r.Objects[i].Object < r.Objects[j].Object })
}
