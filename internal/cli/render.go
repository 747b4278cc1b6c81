package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newRenderCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &envOptions{kube: kube, streams: streams}
	var outDir, output string
	cmd := &cobra.Command{
		Use:     "render --env ENV",
		Example: "  ragdeploy render --env staging                 # to stdout, secret values redacted\n  ragdeploy render --env staging -o json\n  ragdeploy render --env staging --output-dir out/staging",
		Short:   "Print the manifests an environment deploys (secret values redacted)",
		Long: "Validates the environment (schema and policy), renders the platform chart with\n" +
			"its values and prints every object, the environment's Secrets included with\n" +
			"each value replaced by a fingerprint. Touches no cluster.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("--output: %q is not one of yaml, json", output)
			}
			if err := o.complete(cmd.Context()); err != nil {
				return err
			}
			objs := o.plan.Redacted()
			if outDir == "" {
				if output == "json" {
					items := make([]any, 0, len(objs))
					for _, obj := range objs {
						items = append(items, obj.Object)
					}
					return printObject(streams.Out, output, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
				}
				for _, obj := range objs {
					fmt.Fprintln(streams.Out, "---")
					if err := printObject(streams.Out, output, obj.Object); err != nil {
						return err
					}
				}
				return nil
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil { //nolint:gosec // G301: output directory meant to be shared (rendered manifests, charts); it holds no secret
				return err
			}
			for i, obj := range objs {
				var buf bytes.Buffer
				if err := printObject(&buf, output, obj.Object); err != nil {
					return err
				}
				name := fmt.Sprintf("%03d-%s-%s.%s", i, strings.ToLower(obj.GetKind()), obj.GetName(), output)
				if err := os.WriteFile(filepath.Join(outDir, name), buf.Bytes(), 0o644); err != nil { //nolint:gosec // G306: output file meant to be shared (rendered manifests, redacted); it holds no secret
					return err
				}
			}
			fmt.Fprintf(streams.ErrOut, "wrote %d objects to %s\n", len(objs), outDir)
			return nil
		},
	}
	o.bindFlagsWithSets(cmd)
	cmd.Flags().StringVar(&outDir, "output-dir", "", "write one file per object into this directory")
	bindFormat(cmd, &output, "yaml", "json")
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
