// Package envconfig loads and validates the environment files in
// environments/: the release target (name, namespace, kube context), the
// policy profile, secrets, drift ignore rules and the chart values.
//
// Values are layered in one order: chart defaults -> environment file ->
// --set overrides. Secrets never enter the values: the encrypted secrets file
// becomes Kubernetes Secrets (or ExternalSecrets) that the chart references
// through existingSecret, so no secret value is stored in a Helm release.
package envconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// Release is where an environment is deployed.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Context   string `json:"context,omitempty"`
}

// Environment is one environments/<env>.yaml.
type Environment struct {
	// Name is the file name without extension; File is the path it was read from.
	Name string `json:"-"`
	File string `json:"-"`

	Release Release `json:"release"`
	// Policy names the policy profile (development, staging, production);
	// empty means the profile named like the environment.
	Policy  string         `json:"policy,omitempty"`
	Secrets SecretsConfig  `json:"secrets,omitempty"`
	Drift   DriftConfig    `json:"drift,omitempty"`
	Values  map[string]any `json:"values"`
}

// DriftConfig holds the environment's drift ignore rules.
type DriftConfig struct {
	Ignore []objects.IgnoreRule `json:"ignore,omitempty"`
}

// Load reads an environment file; unknown keys are errors. Structural
// problems come back as a *ValidationError naming the file.
func Load(path string) (*Environment, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes an environment file's content; path names it in errors and
// locates the secrets file next to it.
func Parse(path string, data []byte) (*Environment, error) {
	var env Environment
	if err := yaml.UnmarshalStrict(data, &env); err != nil {
		return nil, &ValidationError{File: path, Errs: field.ErrorList{decodeProblem(data, err)}}
	}
	env.File = path
	env.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if env.Values == nil {
		env.Values = map[string]any{}
	}
	if errs := env.validateStructure(); len(errs) > 0 {
		return nil, &ValidationError{File: path, Errs: errs}
	}
	return &env, nil
}

// decodeProblem says why an environment file does not decode, in the
// file's terms (YAML kinds and key paths), not the decoder's Go types.
func decodeProblem(data []byte, err error) *field.Error {
	const hint = " (hint: the top-level keys are release, policy, secrets, drift and values)"
	file := field.NewPath("<file>")
	if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
		path := file
		if te.Field != "" {
			path = field.NewPath(te.Field)
		}
		return field.Invalid(path, field.OmitValueType{}, fmt.Sprintf("want %s, got %s", wantedKind(te.Type), yamlKind(te.Value)))
	}
	msg := err.Error()
	if i := strings.Index(msg, "json: unknown field "); i >= 0 {
		quoted := strings.TrimPrefix(msg[i:], "json: unknown field ")
		var doc any
		if key, err := strconv.Unquote(quoted); err == nil && yaml.Unmarshal(data, &doc) == nil {
			if p := pathOfKey(doc, key, nil); p != nil {
				detail := "unknown field"
				if len(p.String()) == len(key) {
					detail += hint
				}
				return &field.Error{Type: field.ErrorTypeNotSupported, Field: p.String(), BadValue: field.OmitValueType{}, Detail: detail}
			}
		}
		return field.Invalid(file, field.OmitValueType{}, "unknown key "+quoted+hint)
	}
	if rest, ok := strings.CutPrefix(msg, "error converting YAML to JSON: yaml: "); ok {
		rest = strings.Join(strings.Fields(strings.TrimPrefix(rest, "unmarshal errors:")), " ")
		return field.Invalid(file, field.OmitValueType{}, "not valid YAML: "+rest)
	}
	return field.Invalid(file, field.OmitValueType{}, msg+hint)
}

// pathOfKey is the path of the first map in v (depth first, in key order)
// that holds key.
func pathOfKey(v any, key string, at *field.Path) *field.Path {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t[key]; ok {
			if at == nil {
				return field.NewPath(key)
			}
			return at.Child(key)
		}
		for _, k := range slices.Sorted(maps.Keys(t)) {
			child := field.NewPath(k)
			if at != nil {
				child = at.Child(k)
			}
			if p := pathOfKey(t[k], key, child); p != nil {
				return p
			}
		}
	case []any:
		for i, e := range t {
			if p := pathOfKey(e, key, at.Index(i)); p != nil {
				return p
			}
		}
	}
	return nil
}

// wantedKind names what a file must hold where Go expects t.
func wantedKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a map"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return wantedKind(t.Elem())
	default:
		return "a number"
	}
}

// yamlKind names a JSON value kind as a YAML file writes it.
func yamlKind(v string) string {
	switch v {
	case "object":
		return "a map"
	case "array":
		return "a list"
	case "bool":
		return "a boolean"
	}
	if strings.HasPrefix(v, "number") {
		return "a number"
	}
	return "a " + v
}

func (e *Environment) validateStructure() field.ErrorList {
	var errs field.ErrorList
	rel := field.NewPath("release")
	if e.Release.Name == "" {
		errs = append(errs, field.Required(rel.Child("name"), "the Helm release name (hint: agentic-rag)"))
	} else if msgs := validation.IsDNS1123Label(e.Release.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(rel.Child("name"), e.Release.Name, strings.Join(msgs, "; ")))
	}
	if e.Release.Namespace == "" {
		errs = append(errs, field.Required(rel.Child("namespace"), "the namespace to deploy into"))
	} else if msgs := validation.IsDNS1123Label(e.Release.Namespace); len(msgs) > 0 {
		errs = append(errs, field.Invalid(rel.Child("namespace"), e.Release.Namespace, strings.Join(msgs, "; ")))
	}
	if e.Policy != "" {
		if _, ok := profiles[e.Policy]; !ok {
			errs = append(errs, field.NotSupported(field.NewPath("policy"), e.Policy, profileNames()))
		}
	}
	for i, r := range e.Drift.Ignore {
		p := field.NewPath("drift", "ignore").Index(i).Child("jsonPointers")
		if len(r.Pointers) == 0 {
			errs = append(errs, field.Required(p, "at least one JSON pointer such as /spec/replicas"))
		}
		for j, ptr := range r.Pointers {
			if !strings.HasPrefix(ptr, "/") {
				errs = append(errs, field.Invalid(p.Index(j), ptr, "a JSON pointer starts with / (hint: /spec/replicas)"))
			}
		}
	}
	errs = append(errs, e.Secrets.validate(field.NewPath("secrets"))...)
	return errs
}

// PolicyName is the policy profile that applies to the environment.
func (e *Environment) PolicyName() string {
	if e.Policy != "" {
		return e.Policy
	}
	return e.Name
}

// MergedValues layers --set overrides (Helm's syntax: a.b=c,d[0]=e,f={x,y})
// over the environment's values. Each override is parsed on its own and
// merged; a malformed one, or one that would put a list index or a key into
// a value that is neither, is an error naming the argument. The value
// "environment" defaults to the environment's name. The environment is not
// modified.
func (e *Environment) MergedValues(sets []string) (map[string]any, error) {
	out, err := deepCopy(e.Values)
	if err != nil {
		return nil, err
	}
	if _, set := out["environment"]; !set && e.Name != "" {
		out["environment"] = e.Name
	}
	for _, s := range sets {
		set, err := parseSet(s)
		if err != nil {
			return nil, fmt.Errorf("--set %q: %w (hint: --set api.replicas=3)", s, err)
		}
		if err := mergeInto(out, set, nil); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
	}
	return out, nil
}

// parseSet checks the keys of one --set argument, then parses it with
// Helm's parser into a fresh map.
func parseSet(s string) (map[string]any, error) {
	for _, assignment := range splitUnescaped(s, ',', true) {
		if assignment == "" {
			return nil, errors.New("an empty assignment")
		}
		key, _, ok := cutUnescaped(assignment, '=')
		if !ok {
			return nil, fmt.Errorf("%q has no value (want KEY=VALUE)", assignment)
		}
		if key == "" {
			return nil, fmt.Errorf("%q has no key", assignment)
		}
		for i, seg := range splitUnescaped(key, '.', false) {
			if !setSegment.MatchString(seg) {
				return nil, fmt.Errorf("key %q: part %d (%q) is not a name with optional [index]es", key, i+1, seg)
			}
		}
	}
	out := map[string]any{}
	if err := strvals.ParseInto(s, out); err != nil {
		if strings.Contains(err.Error(), "interface conversion") {
			return nil, errors.New("one key is given both a value and keys or indexes of its own")
		}
		return nil, err
	}
	return out, nil
}

// setSegment is one dot-separated part of a --set key: a name (backslash
// escapes allowed) and any number of list indexes.
var setSegment = regexp.MustCompile(`^([^\\\[\]]|\\.)+(\[[0-9]+\])*$`)

// splitUnescaped splits s at sep, except where sep is backslash-escaped or,
// with braces, inside {...} (a list value).
func splitUnescaped(s string, sep byte, braces bool) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case braces && c == '{':
			depth++
		case braces && c == '}' && depth > 0:
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// cutUnescaped cuts s around the first sep that is not backslash-escaped.
func cutUnescaped(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// mergeInto merges src (one parsed --set) into dst: maps key by key, lists
// index by index (an index --set left unset keeps dst's element), anything
// else replaced. A map or list where dst holds a scalar, or the reverse, is
// an error naming the path.
func mergeInto(dst, src map[string]any, path []string) error {
	for k, v := range src {
		p := append(slices.Clone(path), k)
		merged, err := mergeValue(dst[k], v, p)
		if err != nil {
			return err
		}
		dst[k] = merged
	}
	return nil
}

func mergeValue(dst, src any, path []string) (any, error) {
	switch s := src.(type) {
	case map[string]any:
		switch d := dst.(type) {
		case nil:
			return s, nil
		case map[string]any:
			return d, mergeInto(d, s, path)
		}
		return nil, fmt.Errorf("%s is %s in the environment, not a map: it has no key %s", strings.Join(path, "."), kindOf(dst), firstKey(s))
	case []any:
		switch d := dst.(type) {
		case nil:
			return s, nil
		case []any:
			for len(d) < len(s) {
				d = append(d, nil)
			}
			for i, e := range s {
				if e == nil {
					continue
				}
				m, err := mergeValue(d[i], e, append(slices.Clone(path), fmt.Sprintf("[%d]", i)))
				if err != nil {
					return nil, err
				}
				d[i] = m
			}
			return d, nil
		}
		return nil, fmt.Errorf("%s is %s in the environment, not a list: it has no index", strings.Join(path, "."), kindOf(dst))
	}
	return src, nil
}

func firstKey(m map[string]any) string {
	return slices.Sorted(maps.Keys(m))[0]
}

// kindOf names a decoded value's type the way a user reads a values file.
func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

func deepCopy(v map[string]any) (map[string]any, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ValidationError is every problem found in one environment file.
type ValidationError struct {
	File string
	Errs field.ErrorList
}

func (e *ValidationError) Error() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %d problem(s)", e.File, len(e.Errs))
	for _, err := range e.Errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.File, err.Error())
	}
	return b.String()
}
