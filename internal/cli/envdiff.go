package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"helm.sh/helm/v4/pkg/chart/common/util"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func newEnvCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Work with environment files"}
	var dir string
	diff := &cobra.Command{
		Use:   "diff ENV ENV",
		Short: "Show how two environments differ (target, policy and effective values)",
		Long: "Compares two environments after layering each over the chart defaults, so a\n" +
			"value one environment sets and the other inherits shows up too.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := render.LoadChart(charts.FS, "agentic-rag")
			if err != nil {
				return err
			}
			var flat [2]map[string]string
			var files [2]string
			for i, name := range args {
				env, err := envconfig.Load(envFile(dir, name))
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
			fmt.Fprintf(streams.Out, "%s | %s: %d differences\n", files[0], files[1], len(sorted))
			for _, k := range sorted {
				fmt.Fprintf(streams.Out, "  %s: %s | %s\n", k, orUnset(flat[0][k]), orUnset(flat[1][k]))
			}
			return nil
		},
	}
	diff.Flags().StringVar(&dir, "environments-dir", "environments", "directory of the environment files")
	cmd.AddCommand(diff)
	return cmd
}

func secretsSource(env *envconfig.Environment) string {
	if env.Secrets.External != nil {
		return "external store " + env.Secrets.External.StoreRef.Kind + "/" + env.Secrets.External.StoreRef.Name
	}
	if f := env.SecretsFile(); f != "" {
		return "sops file " + f
	}
	return "existing Secrets"
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// flatten writes every leaf of v under dotted paths (lists indexed [i]).
func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			out[prefix] = "{}"
		}
		for k, e := range t {
			flatten(prefix+"."+k, e, out)
		}
	case []any:
		if len(t) == 0 {
			out[prefix] = "[]"
		}
		for i, e := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = strings.TrimSpace(fmt.Sprintf("%v", t))
	}
}
