package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// localLoadOptions put image tarballs into the local cluster's registry.
type localLoadOptions struct {
	localOptions
	Name string
	// tarballs are the IMAGE_TAR arguments.
	tarballs []string
}

func newLocalLoadCommand(streams Streams) *cobra.Command {
	o := &localLoadOptions{localOptions: localOptions{streams: streams}}
	cmd := &cobra.Command{
		Use:   "load IMAGE_TAR...",
		Short: "Put images into the local cluster's registry, for pods on its real nodes (like kind load)",
		Long: "Each IMAGE_TAR is a `docker save` tarball or an OCI image layout as a tarball\n" +
			"(make image writes dist/ragdeploy-image.tar). Images keep the names the tarball\n" +
			"gives them (--name names a tarball's one image), and pods on real nodes run them\n" +
			"by those names: the real nodes use the local registry as the mirror of every\n" +
			"registry.",
		Example: "  ragdeploy local load dist/ragdeploy-image.tar --name agentic-rag/ragdeploy:dev\n" +
			"  ragdeploy local load api-2.0.0.tar",
		Args: cobra.MinimumNArgs(1),
	}
	o.bindFlags(cmd)
	cmd.Flags().StringVar(&o.Name, "name", "", "the image's name (repository:tag) when the tarball gives none, or instead of it")
	return runs(cmd, o)
}

func (o *localLoadOptions) Complete(cmd *cobra.Command, args []string) error {
	o.tarballs = args
	return o.localOptions.Complete(cmd, args)
}

func (o *localLoadOptions) Validate() error {
	if o.Name != "" && len(o.tarballs) > 1 {
		return errors.New("--name names the image of one tarball; give one IMAGE_TAR with it")
	}
	return nil
}

func (o *localLoadOptions) Run(context.Context) error {
	s, ok := o.running()
	if !ok {
		return errNotRunning(o.StateDir)
	}
	if s.Registry == "" {
		return fmt.Errorf("the local cluster in %s has no real nodes, so no registry: start it with `ragdeploy local up --real-nodes 1`", o.StateDir)
	}
	for _, path := range o.tarballs {
		names, err := localcluster.Load(s.Registry, path, o.Name)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintf(o.streams.Out, "loaded %s from %s\n", n, path)
		}
	}
	return nil
}
