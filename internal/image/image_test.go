package image_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

func build(t *testing.T, dir string) string {
	t.Helper()
	idx, err := image.Build(t.Context(), image.Options{
		Platforms: []string{"linux/" + runtime.GOARCH}, Version: "1.2.3", Commit: "abc1234",
		Created: time.Unix(1700000000, 0).UTC(), Package: "./cmd/ragdeploy", Dir: filepath.Join("..", ".."),
	})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := image.WriteLayout(dir, idx)
	if err != nil {
		t.Fatal(err)
	}
	return digest.String()
}

// TestImageIsReproducibleAndNonRoot builds the image twice from the same
// source: same digest; the image runs as a non-root user, holds nothing but
// the binary (no shell), and the binary runs.
func TestImageIsReproducibleAndNonRoot(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	first, second := build(t, a), build(t, b)
	if first != second {
		t.Fatalf("two builds of the same source: %s and %s", first, second)
	}
	idx, err := image.ReadLayout(b)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d.String() != first {
		t.Fatalf("layout holds %s; want %s", d, first)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("index %+v (err %v); want one linux/%s image", m, err, runtime.GOARCH)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != image.User || strings.HasPrefix(cfg.Config.User, "0") || cfg.Config.User == "root" {
		t.Fatalf("user %q; want %s", cfg.Config.User, image.User)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/ragdeploy" || cfg.Config.Labels["org.opencontainers.image.version"] != "1.2.3" {
		t.Fatalf("entrypoint %v labels %v", cfg.Config.Entrypoint, cfg.Config.Labels)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (err %v); want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	var names []string
	bin := filepath.Join(t.TempDir(), "ragdeploy")
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil { //nolint:gosec // G306: temporary test file
			t.Fatal(err)
		}
	}
	if len(names) != 1 || names[0] != "ragdeploy" {
		t.Fatalf("layer holds %v; want only the ragdeploy binary (no shell)", names)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput() //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
	if err != nil || !strings.Contains(string(out), "1.2.3 (commit abc1234)") {
		t.Fatalf("the image's binary: %s (err %v)", out, err)
	}
}
