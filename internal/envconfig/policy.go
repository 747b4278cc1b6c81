package envconfig

import (
	_ "embed"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Profile is one policy profile of policies.yaml.
type Profile struct {
	MinAPIReplicas       int      `json:"minAPIReplicas"`
	RequireResources     bool     `json:"requireResources"`
	ForbidLatestImages   bool     `json:"forbidLatestImages"`
	RequirePinnedImages  bool     `json:"requirePinnedImages"`
	RequirePDB           bool     `json:"requirePDB"`
	RequireNetworkPolicy bool     `json:"requireNetworkPolicy"`
	RequirePersistence   bool     `json:"requirePersistence"`
	RequireTLS           bool     `json:"requireTLS"`
	Strategies           []string `json:"strategies"`
	// AllowGeneratedSecrets lets the environment set secrets.generate.
	AllowGeneratedSecrets bool `json:"allowGeneratedSecrets"`
}

//go:embed policies.yaml
var policiesYAML []byte

var profiles = func() map[string]Profile {
	out := map[string]Profile{}
	if err := yaml.UnmarshalStrict(policiesYAML, &out); err != nil {
		panic(fmt.Sprintf("policies.yaml: %v", err)) // embedded at build time; a test loads it
	}
	return out
}()

func profileNames() []string {
	names := slices.Sorted(maps.Keys(profiles))
	return names
}

// immutableTag is a version tag (1.2, 1.2.3, v1.2.3-alpine): a tag that by
// convention is never moved to another image, unlike latest, main or stable.
var immutableTag = regexp.MustCompile(`^v?\d+(\.\d+){1,2}([-.+][0-9A-Za-z.-]+)?$`)

// policyErrors checks the rendered objects of an environment against its
// profile. values are the coalesced chart values.
func policyErrors(p Profile, values map[string]any, objs []render.Object) field.ErrorList {
	var errs field.ErrorList
	vals := field.NewPath("values")
	api := vals.Child("api")

	strategy, _ := nested(values, "api", "strategy").(string)
	if len(p.Strategies) > 0 && !slices.Contains(p.Strategies, strategy) {
		errs = append(errs, field.NotSupported(api.Child("strategy"), strategy, p.Strategies))
	}
	if p.MinAPIReplicas > 0 {
		if on, _ := nested(values, "api", "autoscaling", "enabled").(bool); on {
			if n := toInt(nested(values, "api", "autoscaling", "minReplicas")); n < p.MinAPIReplicas {
				errs = append(errs, field.Invalid(api.Child("autoscaling", "minReplicas"), n,
					fmt.Sprintf("must be at least %d with autoscaling on (hint: raise minReplicas)", p.MinAPIReplicas)))
			}
		} else if n := toInt(nested(values, "api", "replicas")); n < p.MinAPIReplicas {
			errs = append(errs, field.Invalid(api.Child("replicas"), n,
				fmt.Sprintf("must be at least %d (hint: raise replicas, or enable autoscaling with minReplicas >= %d)", p.MinAPIReplicas, p.MinAPIReplicas)))
		}
	}

	var hasPDB, hasNetpol bool
	for _, o := range objs {
		prefix := valuesPrefix(o)
		where := fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
		switch o.GetKind() {
		case "PodDisruptionBudget":
			hasPDB = true
		case "NetworkPolicy":
			hasNetpol = true
		case "StatefulSet":
			if p.RequirePersistence {
				errs = append(errs, persistenceErrors(o.Unstructured, prefix.Child("persistence"), where)...)
			}
		case "Ingress":
			if p.RequireTLS {
				errs = append(errs, tlsErrors(o.Unstructured, vals.Child("ingress", "tls"), where)...)
			}
		}
		for _, c := range containers(o.Object) {
			name, _ := c["name"].(string)
			image, _ := c["image"].(string)
			cwhere := fmt.Sprintf("%s container %s", where, name)
			if p.RequireResources {
				for _, r := range []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} {
					kind, res, _ := strings.Cut(r, ".")
					if nested(c, "resources", kind, res) == nil {
						errs = append(errs, field.Required(prefix.Child("resources", kind, res), cwhere+" has no "+r+" (hint: set it, or pick a size preset)"))
					}
				}
			}
			errs = append(errs, requestLimitErrors(c, prefix.Child("resources"), cwhere)...)
			errs = append(errs, imageErrors(p, image, prefix.Child("image"), cwhere)...)
		}
	}
	if p.RequirePDB && !hasPDB {
		errs = append(errs, field.Required(api.Child("pdb"), "a PodDisruptionBudget for the api (hint: it is rendered when more than one replica runs)"))
	}
	if p.RequireNetworkPolicy && !hasNetpol {
		errs = append(errs, field.Invalid(vals.Child("networkPolicy", "enabled"), false, "NetworkPolicies are required in this environment (hint: networkPolicy.enabled: true)"))
	}
	return dedupe(errs)
}

// requestLimitErrors reports a request above its limit, which the API
// server would reject at apply time, in every profile.
func requestLimitErrors(c map[string]any, path *field.Path, where string) field.ErrorList {
	var errs field.ErrorList
	for _, res := range []string{"cpu", "memory"} {
		req, lim := nested(c, "resources", "requests", res), nested(c, "resources", "limits", res)
		if req == nil || lim == nil {
			continue
		}
		rq, err1 := resource.ParseQuantity(fmt.Sprint(req))
		lq, err2 := resource.ParseQuantity(fmt.Sprint(lim))
		if err1 != nil || err2 != nil {
			continue // the schema reports malformed quantities
		}
		if rq.Cmp(lq) > 0 {
			errs = append(errs, field.Invalid(path.Child("requests", res), fmt.Sprint(req),
				fmt.Sprintf("%s: the %s request is above its limit %v (hint: raise limits.%s or lower requests.%s)", where, res, lim, res, res)))
		}
	}
	return errs
}

// CheckImage applies the environment's image rules to one image reference,
// as the imperative paths (`rollout set-image`, `rollout undo`) need: it must
// parse, and meet the profile's rules on tags. path and where locate it.
func (e *Environment) CheckImage(image string, path *field.Path, where string) error {
	profile, ok := profiles[e.PolicyName()]
	if !ok {
		return &ValidationError{File: e.File, Errs: field.ErrorList{field.NotSupported(field.NewPath("policy"), e.PolicyName(), profileNames())}}
	}
	if errs := imageErrors(profile, image, path, where); len(errs) > 0 {
		return &ValidationError{File: e.File, Errs: e.ofPolicy(errs)}
	}
	return nil
}

// ofPolicy says in each error's detail which policy profile it comes from.
func (e *Environment) ofPolicy(errs field.ErrorList) field.ErrorList {
	for _, err := range errs {
		err.Detail = "policy " + e.PolicyName() + ": " + err.Detail
	}
	return errs
}

// ParseImage checks that s is an image reference (registry/repository,
// optionally :tag and @sha256:digest).
func ParseImage(s string) error {
	if s != strings.TrimSpace(s) || s == "" {
		return fmt.Errorf("%q is not an image reference", s)
	}
	if _, err := name.ParseReference(s); err != nil {
		// The parser's generic "could not parse reference: S" says nothing
		// more; its specific reasons (a repository's characters) stay.
		if err.Error() == "could not parse reference: "+s {
			return fmt.Errorf("%q is not an image reference", s)
		}
		return fmt.Errorf("%q is not an image reference: %w", s, err)
	}
	return nil
}

func imageErrors(p Profile, image string, path *field.Path, where string) field.ErrorList {
	if err := ParseImage(image); err != nil {
		return field.ErrorList{field.Invalid(path, image, where+": "+err.Error()+" (hint: repository:1.2.3 or repository@sha256:...)")}
	}
	if !p.ForbidLatestImages && !p.RequirePinnedImages {
		return nil
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	tag := ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		tag = image[i+1:]
	}
	switch {
	case tag == "" || tag == "latest":
		return field.ErrorList{field.Invalid(path, image, where+": untagged and :latest images are not allowed (hint: set image.tag to a version or image.digest)")}
	case p.RequirePinnedImages && !immutableTag.MatchString(tag):
		return field.ErrorList{field.Invalid(path, image, where+": tag "+tag+" may move; pin a version tag (1.2.3) or a digest (hint: image.digest: sha256:...)")}
	}
	return nil
}

func persistenceErrors(sts *unstructured.Unstructured, path *field.Path, where string) field.ErrorList {
	var errs field.ErrorList
	if vct, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates"); len(vct) == 0 {
		errs = append(errs, field.Required(path, where+" has no volumeClaimTemplates: its data would not survive a restart"))
	}
	for _, k := range []string{"whenDeleted", "whenScaled"} {
		if v, _, _ := unstructured.NestedString(sts.Object, "spec", "persistentVolumeClaimRetentionPolicy", k); v != "Retain" {
			errs = append(errs, field.Invalid(path, v, where+": persistentVolumeClaimRetentionPolicy."+k+" must be Retain"))
		}
	}
	return errs
}

func tlsErrors(ing *unstructured.Unstructured, path *field.Path, where string) field.ErrorList {
	covered := map[string]bool{}
	tls, _, _ := unstructured.NestedSlice(ing.Object, "spec", "tls")
	for _, t := range tls {
		hosts, _, _ := unstructured.NestedStringSlice(t.(map[string]any), "hosts")
		for _, h := range hosts {
			covered[h] = true
		}
	}
	var errs field.ErrorList
	rules, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
	for _, r := range rules {
		if host, _ := r.(map[string]any)["host"].(string); !covered[host] {
			errs = append(errs, field.Required(path, where+": host "+host+" has no TLS entry (hint: add it to ingress.tls[].hosts)"))
		}
	}
	return errs
}

// valuesPrefix is the values path that configures a rendered object:
// values.<subchart> for subchart templates, else the api's (ingress and
// NetworkPolicies have their own).
func valuesPrefix(o render.Object) *field.Path {
	vals := field.NewPath("values")
	parts := strings.Split(o.Template, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "charts" {
			return vals.Child(parts[i+1])
		}
	}
	switch o.GetKind() {
	case "Ingress":
		return vals.Child("ingress")
	case "NetworkPolicy":
		return vals.Child("networkPolicy")
	}
	return vals.Child("api")
}

// containers finds every container and init container in an object, at any
// depth (Deployments, StatefulSets, Jobs, Rollouts and the Jobs
// they embed).
func containers(v any) []map[string]any {
	var out []map[string]any
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if k == "containers" || k == "initContainers" {
				if list, ok := t[k].([]any); ok {
					for _, c := range list {
						if m, ok := c.(map[string]any); ok {
							out = append(out, m)
						}
					}
					continue
				}
			}
			out = append(out, containers(t[k])...)
		}
	case []any:
		for _, e := range t {
			out = append(out, containers(e)...)
		}
	}
	return out
}

func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// dedupe drops repeated errors (a container shared by a workload and its
// migration Job breaks the same rule twice) and sorts by field.
func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	var out field.ErrorList
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
