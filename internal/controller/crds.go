package controller

import (
	"context"
	"io/fs"

	"k8s.io/client-go/rest"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/crds"
)

// InstallCRDs server-side-applies the controller chart's CRDs and waits until
// they are established and listed by discovery.
func InstallCRDs(ctx context.Context, cfg *rest.Config) error {
	files, err := fs.Glob(charts.FS, "ragdeploy/crds/*.yaml")
	if err != nil {
		return err
	}
	docs := make(map[string][]byte, len(files))
	for _, f := range files {
		if docs[f], err = fs.ReadFile(charts.FS, f); err != nil {
			return err
		}
	}
	return crds.Apply(ctx, cfg, docs)
}
