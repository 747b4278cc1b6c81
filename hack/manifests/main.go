// Command manifests renders charts/agentic-rag for every environment into
// deploy/kubernetes/<env>/, one file per component (`make manifests`).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "manifests: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		return err
	}
	envs, err := filepath.Glob("environments/*.yaml")
	if err != nil {
		return err
	}
	for _, path := range envs {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		if strings.Contains(name, ".") { // e.g. production.secrets.yaml
			continue
		}
		env, err := envconfig.Load(path)
		if err != nil {
			return err
		}
		objs, err := render.Render(context.Background(), c, render.Release{Name: env.Release.Name, Namespace: env.Release.Namespace}, env.Values)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		files, err := render.Manifests(objs)
		if err != nil {
			return err
		}
		dir := filepath.Join("deploy", "kubernetes", name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for file, data := range files {
			if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("%s: %d objects in %d files\n", dir, len(objs), len(files))
	}
	return nil
}
