package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `ragdeploy version` reports (its JSON is stable).
type versionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
	HelmSDK    string `json:"helmSDK"`
	Kubernetes string `json:"kubernetesClient"`
}

// currentVersion reads the build-time version and the module versions
// compiled in.
func currentVersion() versionInfo {
	v := versionInfo{Version: Version, Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		HelmSDK: "unknown", Kubernetes: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			switch d.Path {
			case "helm.sh/helm/v4":
				v.HelmSDK = d.Version
			case "k8s.io/client-go":
				v.Kubernetes = d.Version
			}
		}
	}
	return v
}

// versionOptions print the version.
type versionOptions struct {
	streams Streams
	output  string
}

func newVersionCommand(streams Streams) *cobra.Command {
	o := &versionOptions{streams: streams}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print ragdeploy's version, commit, Go, Helm SDK and Kubernetes client versions",
		Example: "  ragdeploy version\n  ragdeploy version -o json",
		Args:    cobra.NoArgs,
	}
	bindOutput(cmd, &o.output)
	return runs(cmd, o)
}

func (o *versionOptions) Complete(*cobra.Command, []string) error { return nil }

func (o *versionOptions) Validate() error { return validateOutput(o.output) }

func (o *versionOptions) Run(context.Context) error {
	v := currentVersion()
	if o.output != "text" {
		return printObject(o.streams.Out, o.output, v)
	}
	fmt.Fprintf(o.streams.Out, "ragdeploy %s (commit %s)\n  go          %s %s\n  helm SDK    %s\n  client-go   %s\n",
		v.Version, v.Commit, v.Go, v.Platform, v.HelmSDK, v.Kubernetes)
	return nil
}
