package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"helm.sh/helm/v4/pkg/chart/common/util"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func newEnvCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Work with environment files"}
	o := &envDiffOptions{streams: streams}
	diff := &cobra.Command{
		Use:     "diff ENV ENV",
		Example: "  ragdeploy env diff staging production",
		Short:   "Show how two environments differ (target, policy and effective values)",
		Long: "Compares two environments after layering each over the chart defaults, so a\n" +
			"value one environment sets and the other inherits shows up too.",
		Args: cobra.ExactArgs(2),
	}
	bindEnvironmentsDir(diff, &o.dir)
	bindOutput(diff, &o.output)
	cmd.AddCommand(runs(diff, o), newEnvListCommand(streams))
	return cmd
}

// envDiffOptions compare two environments.
type envDiffOptions struct {
	streams     Streams
	dir, output string
	args        []string
}

func (o *envDiffOptions) Complete(_ *cobra.Command, args []string) error {
	o.args = args
	return nil
}

func (o *envDiffOptions) Validate() error { return validateOutput(o.output) }

func (o *envDiffOptions) Run(context.Context) error {
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		return err
	}
	var flat [2]map[string]string
	var files [2]string
	for i, name := range o.args {
		env, err := loadEnvironment(o.dir, name)
		if err != nil {
			return err
		}
		vals, err := util.CoalesceValues(c, env.Values)
		if err != nil {
			return fmt.Errorf("%s: %w", env.File, err)
		}
		flat[i] = map[string]string{
			"release.name": env.Release.Name, "release.namespace": env.Release.Namespace,
			"release.context": env.Release.Context, "policy": env.PolicyName(),
			"secrets": secretsSource(env),
		}
		flatten("values", map[string]any(vals), flat[i])
		files[i] = env.File
	}
	keys := map[string]bool{}
	for _, f := range flat {
		for k := range f {
			keys[k] = true
		}
	}
	var sorted []string
	for k := range keys {
		if flat[0][k] != flat[1][k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	if o.output != "text" {
		type difference struct {
			Path  string `json:"path"`
			Left  string `json:"left"`
			Right string `json:"right"`
		}
		result := struct {
			Left        string       `json:"left"`
			Right       string       `json:"right"`
			Differences []difference `json:"differences"`
		}{Left: files[0], Right: files[1], Differences: []difference{}}
		for _, k := range sorted {
			result.Differences = append(result.Differences, difference{k, flat[0][k], flat[1][k]})
		}
		return printObject(o.streams.Out, o.output, result)
	}
	fmt.Fprintf(o.streams.Out, "%s | %s: %d differences\n", files[0], files[1], len(sorted))
	for _, k := range sorted {
		fmt.Fprintf(o.streams.Out, "  %s: %s | %s\n", k, orUnset(flat[0][k]), orUnset(flat[1][k]))
	}
	return nil
}

// envEntry is one line of `env list` (and one object of its JSON).
type envEntry struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	Policy    string `json:"policy"`
	Secrets   string `json:"secrets"`
	File      string `json:"file"`
	Error     string `json:"error,omitempty"`
}

// envListOptions list the environments.
type envListOptions struct {
	streams     Streams
	dir, output string
}

func newEnvListCommand(streams Streams) *cobra.Command {
	o := &envListOptions{streams: streams}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the environments: release target, policy profile and where secrets come from",
		Example: "  ragdeploy env list\n  ragdeploy env list -o json",
		Args:    cobra.NoArgs,
	}
	bindEnvironmentsDir(cmd, &o.dir)
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *envListOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *envListOptions) Validate() error { return validateOutput(o.output) }

func (o *envListOptions) Run(context.Context) error {
	d, names, err := environmentFiles(o.dir)
	if err != nil {
		return err
	}
	entries := []envEntry{}
	invalid := 0
	for _, name := range names {
		file := filepath.Join(d, name+".yaml")
		e := envEntry{Name: name, File: file}
		if env, err := envconfig.Load(file); err != nil {
			e.Error, invalid = strings.SplitN(err.Error(), "\n", 2)[0], invalid+1
		} else {
			e.Namespace, e.Release, e.Policy, e.Secrets = env.Release.Namespace, env.Release.Name, env.PolicyName(), secretsSource(env)
		}
		entries = append(entries, e)
	}
	if o.output != "text" {
		if err := printObject(o.streams.Out, o.output, entries); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tNAMESPACE\tRELEASE\tPOLICY\tSECRETS")
		for _, e := range entries {
			if e.Error != "" {
				fmt.Fprintf(w, "%s\t-\t-\t-\tinvalid: %s\n", e.Name, e.Error)
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Namespace, e.Release, e.Policy, e.Secrets)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%d of %d environment files in %s/ are invalid (hint: ragdeploy validate --env NAME)", invalid, len(entries), d)
	}
	return nil
}

func secretsSource(env *envconfig.Environment) string {
	if env.Secrets.External != nil {
		return "external store " + env.Secrets.External.StoreRef.Kind + "/" + env.Secrets.External.StoreRef.Name
	}
	src := "existing Secrets"
	if f := env.SecretsFile(); f != "" {
		src = "sops file " + f
	}
	if env.Secrets.Generate {
		src += ", generated when missing"
	}
	return src
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// flatten writes every leaf of v under dotted paths (lists indexed [i]).
// A map or list is also written under its own path, as {} or {…} and as
// [] or (N items), so that an empty one against a full one reads as that
// and not as "(unset)".
func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		out[prefix] = "{}"
		if len(t) > 0 {
			out[prefix] = "{…}"
		}
		for k, e := range t {
			flatten(prefix+"."+k, e, out)
		}
	case []any:
		switch len(t) {
		case 0:
			out[prefix] = "[]"
		case 1:
			out[prefix] = "(1 item)"
		default:
			out[prefix] = fmt.Sprintf("(%d items)", len(t))
		}
		for i, e := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = strings.TrimSpace(fmt.Sprintf("%v", t))
	}
}
