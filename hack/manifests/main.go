// Command manifests renders charts/agentic-rag for every environment into
// deploy/kubernetes/<env>/, one file per component (`make manifests`).
// With -controller DIR it renders charts/ragdeploy with its default values
// into DIR instead (what the manifest scan reads).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func main() {
	controller := flag.String("controller", "", "render charts/ragdeploy with its defaults into this directory, and nothing else")
	flag.Parse()
	run := renderEnvironments
	if *controller != "" {
		run = func() error { return renderController(*controller) }
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "manifests: %v\n", err)
		os.Exit(1)
	}
}

func renderEnvironments() error {
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
		dir := filepath.Join("deploy", "kubernetes", name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := write(dir, objs); err != nil {
			return err
		}
		fmt.Printf("%s: %d objects\n", dir, len(objs))
	}
	return nil
}

func renderController(dir string) error {
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		return err
	}
	objs, err := render.Render(context.Background(), c, render.Release{Name: "ragdeploy", Namespace: "ragdeploy-system"}, map[string]any{})
	if err != nil {
		return err
	}
	return write(dir, objs)
}

// write puts objs into dir, one file per component.
func write(dir string, objs []render.Object) error {
	files, err := render.Manifests(objs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: output directory meant to be shared (rendered manifests); it holds no secret
		return err
	}
	for file, data := range files {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil { //nolint:gosec // G306: output file meant to be shared (rendered manifests, redacted); it holds no secret
			return err
		}
	}
	return nil
}
