package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// renderOptions print or write an environment's objects.
type renderOptions struct {
	envOptions
	outDir, output string
}

func newRenderCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &renderOptions{envOptions: envOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "render --env ENV",
		Example: "  ragdeploy render --env staging                 # to stdout, secret values redacted\n  ragdeploy render --env staging -o json\n  ragdeploy render --env staging --output-dir out/staging",
		Short:   "Print the manifests an environment deploys (secret values redacted)",
		Long: "Validates the environment (schema and policy), renders the platform chart with\n" +
			"its values and prints every object, the environment's Secrets included with\n" +
			"each value replaced by a fingerprint. Touches no cluster.",
		Args: cobra.NoArgs,
	}
	o.bindFlagsWithSets(cmd)
	cmd.Flags().StringVar(&o.outDir, "output-dir", "", "write one file per object into this directory")
	bindFormat(cmd, &o.output, "yaml", "json")
	return runs(cmd, o)
}

func (o *renderOptions) Validate() error {
	if o.output != "yaml" && o.output != "json" {
		return fmt.Errorf("--output: %q is not one of yaml, json", o.output)
	}
	return nil
}

func (o *renderOptions) Run(context.Context) error {
	objs := o.plan.Redacted()
	if o.outDir == "" {
		if o.output == "json" {
			items := make([]any, 0, len(objs))
			for _, obj := range objs {
				items = append(items, obj.Object)
			}
			return printObject(o.streams.Out, o.output, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
		}
		for _, obj := range objs {
			fmt.Fprintln(o.streams.Out, "---")
			if err := printObject(o.streams.Out, o.output, obj.Object); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil { //nolint:gosec // G301: output directory meant to be shared (rendered manifests, charts); it holds no secret
		return err
	}
	for i, obj := range objs {
		var buf bytes.Buffer
		if err := printObject(&buf, o.output, obj.Object); err != nil {
			return err
		}
		name := fmt.Sprintf("%03d-%s-%s.%s", i, strings.ToLower(obj.GetKind()), obj.GetName(), o.output)
		if err := os.WriteFile(filepath.Join(o.outDir, name), buf.Bytes(), 0o644); err != nil { //nolint:gosec // G306: output file meant to be shared (rendered manifests, redacted); it holds no secret
			return err
		}
	}
	fmt.Fprintf(o.streams.ErrOut, "wrote %d objects to %s\n", len(objs), o.outDir)
	return nil
}

// validateOptions check an environment.
type validateOptions struct{ envOptions }

func newValidateCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &validateOptions{envOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "validate --env ENV",
		Example: "  ragdeploy validate --env production\n  ragdeploy validate --env production --set api.replicas=1   # see what the policy says",
		Short:   "Check an environment against the chart's schema and its policy profile",
		Args:    cobra.NoArgs,
	}
	o.bindFlagsWithSets(cmd)
	return runs(cmd, o)
}

// Run reports what Complete found: the environment loaded, passed its
// schema and policy, and rendered.
func (o *validateOptions) Run(context.Context) error {
	env := o.plan.Env
	fmt.Fprintf(o.streams.Out, "%s: valid (policy %s, %d objects, %d secrets)\n", env.File, env.PolicyName(), len(o.plan.Objects), len(o.plan.Secrets))
	return nil
}
