package envconfig

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var printer = message.NewPrinter(language.English)

// schemaErrors validates coalesced values against the chart's
// values.schema.json and each enabled subchart's, reporting every violation
// at its field path under base (values.<subchart>... for subcharts).
func schemaErrors(c *chart.Chart, values map[string]any, base *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(c.Schema) > 0 {
		errs = append(errs, validateSchema(c.Name(), c.Schema, values, base)...)
	}
	for _, sub := range c.Dependencies() {
		raw, ok := values[sub.Name()].(map[string]any)
		if !ok {
			continue
		}
		if enabled, ok := raw["enabled"].(bool); ok && !enabled {
			continue
		}
		errs = append(errs, schemaErrors(sub, raw, base.Child(sub.Name()))...)
	}
	return errs
}

func validateSchema(name string, schemaJSON []byte, values map[string]any, base *field.Path) field.ErrorList {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return field.ErrorList{field.InternalError(base, fmt.Errorf("chart %s: values.schema.json: %w", name, err))}
	}
	compiler := jsonschema.NewCompiler()
	url := "file:///" + name + "/values.schema.json"
	if err := compiler.AddResource(url, doc); err != nil {
		return field.ErrorList{field.InternalError(base, err)}
	}
	schema, err := compiler.Compile(url)
	if err != nil {
		return field.ErrorList{field.InternalError(base, fmt.Errorf("chart %s: values.schema.json: %w", name, err))}
	}
	// Round-trip through JSON so numbers have the types the validator expects.
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(mustJSON(values)))
	if err != nil {
		return field.ErrorList{field.InternalError(base, err)}
	}
	err = schema.Validate(inst)
	var verr *jsonschema.ValidationError
	if err == nil {
		return nil
	} else if !errors.As(err, &verr) {
		return field.ErrorList{field.InternalError(base, err)}
	}
	var errs field.ErrorList
	collectLeaves(verr, base, &errs)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// collectLeaves turns the deepest causes of a validation error into field
// errors; the intermediate ones only say "a child failed".
func collectLeaves(e *jsonschema.ValidationError, base *field.Path, out *field.ErrorList) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectLeaves(c, base, out)
		}
		return
	}
	p := base
	for _, tok := range e.InstanceLocation {
		p = p.Child(tok)
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, prop := range k.Properties {
			*out = append(*out, &field.Error{Type: field.ErrorTypeNotSupported, Field: p.Child(prop).String(), BadValue: field.OmitValueType{}, Detail: "unknown field (hint: check the spelling against the chart's values.yaml)"})
		}
	case *kind.Required:
		for _, prop := range k.Missing {
			*out = append(*out, field.Required(p.Child(prop), "required by the chart's values.schema.json"))
		}
	case *kind.Pattern:
		detail := k.LocalizedString(printer)
		if k.Want == quantityPattern {
			detail = fmt.Sprintf("%q is not a Kubernetes quantity (hint: 250m or 1 for cpu, 512Mi or 1Gi for memory and storage)", k.Got)
		}
		*out = append(*out, &field.Error{Type: field.ErrorTypeInvalid, Field: p.String(), BadValue: field.OmitValueType{}, Detail: detail})
	default:
		*out = append(*out, &field.Error{Type: field.ErrorTypeInvalid, Field: p.String(), BadValue: field.OmitValueType{},
			Detail: e.ErrorKind.LocalizedString(printer)})
	}
}

// quantityPattern is the charts' schema pattern for a resource quantity
// (Kubernetes' own grammar, without a sign).
const quantityPattern = `^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// shapeErrors reports user values that are not maps where the chart's
// default is a map (api.config=x): Helm's coalescing drops such a value
// silently and keeps the default, so the schema would never see it. null
// stays allowed (it removes a default).
func shapeErrors(c *chart.Chart, values map[string]any, path *field.Path) field.ErrorList {
	defaults := maps.Clone(c.Values)
	subs := map[string]*chart.Chart{}
	for _, sub := range c.Dependencies() {
		subs[sub.Name()] = sub
	}
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v, p := values[k], path.Child(k)
		if sub, ok := subs[k]; ok {
			if m, ok := v.(map[string]any); ok {
				errs = append(errs, shapeErrors(sub, m, p)...)
				continue
			}
		}
		def, isMap := defaults[k].(map[string]any)
		if _, isSub := subs[k]; !isMap && !isSub {
			continue
		}
		switch m := v.(type) {
		case nil:
		case map[string]any:
			errs = append(errs, shapeErrors(&chart.Chart{Values: def}, m, p)...)
		default:
			errs = append(errs, field.Invalid(p, v, "must be a map of settings, not "+kindOf(v)+" (hint: set one of its keys, e.g. "+p.String()+"."+exampleKey(def)+"=...)"))
		}
	}
	return errs
}

func exampleKey(def map[string]any) string {
	if len(def) == 0 {
		return "KEY"
	}
	return slices.Sorted(maps.Keys(def))[0]
}
