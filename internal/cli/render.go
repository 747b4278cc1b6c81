package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func newRenderCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &envOptions{kube: kube, streams: streams}
	var outDir string
	cmd := &cobra.Command{
		Use:     "render --env ENV",
		Example: "  ragdeploy render --env staging                 # to stdout, secret values redacted\n  ragdeploy render --env staging -o out/staging",
		Short:   "Print the manifests an environment deploys (secret values redacted)",
		Long: "Validates the environment (schema and policy), renders the platform chart with\n" +
			"its values and prints every object, the environment's Secrets included with\n" +
			"each value replaced by a fingerprint. Touches no cluster.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd.Context()); err != nil {
				return err
			}
			objs := o.plan.Redacted()
			if outDir == "" {
				for _, obj := range objs {
					data, err := yaml.Marshal(obj.Object)
					if err != nil {
						return err
					}
					fmt.Fprintf(streams.Out, "---\n%s", data)
				}
				return nil
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil { //nolint:gosec // G301: output directory meant to be shared (rendered manifests, charts); it holds no secret
				return err
			}
			for i, obj := range objs {
				data, err := yaml.Marshal(obj.Object)
				if err != nil {
					return err
				}
				name := fmt.Sprintf("%03d-%s-%s.yaml", i, strings.ToLower(obj.GetKind()), obj.GetName())
				if err := os.WriteFile(filepath.Join(outDir, name), data, 0o644); err != nil { //nolint:gosec // G306: output file meant to be shared (rendered manifests, redacted); it holds no secret
					return err
				}
			}
			fmt.Fprintf(streams.ErrOut, "wrote %d objects to %s\n", len(objs), outDir)
			return nil
		},
	}
	o.bindFlagsWithSets(cmd)
	cmd.Flags().StringVarP(&outDir, "output-dir", "o", "", "write one file per object into this directory")
	return cmd
}

func newValidateCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &envOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "validate --env ENV",
		Example: "  ragdeploy validate --env production\n  ragdeploy validate --env production --set api.replicas=1   # see what the policy says",
		Short:   "Check an environment against the chart's schema and its policy profile",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd.Context()); err != nil {
				return err
			}
			env := o.plan.Env
			fmt.Fprintf(streams.Out, "%s: valid (policy %s, %d objects, %d secrets)\n", env.File, env.PolicyName(), len(o.plan.Objects), len(o.plan.Secrets))
			return nil
		},
	}
	o.bindFlagsWithSets(cmd)
	return cmd
}
