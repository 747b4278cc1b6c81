package main

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/agentic-rag/ragdeploy/internal/image"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// TestPublishToAnOCIRegistry pushes an image layout and both charts to an
// in-memory OCI registry and pulls them back.
func TestPublishToAnOCIRegistry(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	dist := t.TempDir()

	idx, err := image.Build(t.Context(), image.Options{Platforms: []string{"linux/" + runtime.GOARCH}, Version: "9.9.9", Commit: "c0ffee0",
		Created: time.Unix(0, 0).UTC(), Package: "./cmd/ragdeploy", Dir: filepath.Join("..", "..")})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := image.WriteLayout(filepath.Join(dist, "image"), idx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ragdeploy", "agentic-rag"} {
		if _, err := render.Package(filepath.Join("..", "..", "charts", c), dist); err != nil {
			t.Fatal(err)
		}
	}
	outputs := filepath.Join(dist, "github-output")
	sbom := filepath.Join(dist, "sbom.cdx.json")
	sbomData := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`)
	if err := os.WriteFile(sbom, sbomData, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(options{Registry: host + "/agentic-rag", ImageDir: filepath.Join(dist, "image"), ChartsDir: dist, Output: outputs, SBOM: sbom, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)

	ref, err := name.NewTag(host+"/agentic-rag/ragdeploy:9.9.9", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != digest {
		t.Fatalf("registry holds %s; pushed %s", d, digest)
	}
	// The SBOM is one of the index's referrers, with its content.
	referrers, err := remote.Referrers(ref.Context().Digest(digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	found, err := referrers.IndexManifest()
	if err != nil || len(found.Manifests) != 1 || found.Manifests[0].ArtifactType != SBOMMediaType {
		t.Fatalf("referrers %+v (err %v); want one CycloneDX SBOM", found, err)
	}
	art, err := remote.Image(ref.Context().Digest(found.Manifests[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	layers, err := art.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("SBOM artifact has %d layers (err %v)", len(layers), err)
	}
	rd, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd)
	if err != nil || string(got) != string(sbomData) {
		t.Fatalf("SBOM content %q (err %v)", got, err)
	}
	data, err := os.ReadFile(outputs) //nolint:gosec // G304: test fixture path
	if err != nil || !strings.Contains(string(data), "digest="+digest.String()) || !strings.Contains(string(data), "image="+host+"/agentic-rag/ragdeploy@"+digest.String()) {
		t.Fatalf("step outputs %q (err %v)", data, err)
	}
	rc, err := registry.NewClient(registry.ClientOptPlainHTTP())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ragdeploy", "agentic-rag"} {
		src, err := render.LoadChart(os.DirFS(filepath.Join("..", "..", "charts")), c)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rc.Pull(host + "/agentic-rag/charts/" + c + ":" + src.Metadata.Version)
		if err != nil {
			t.Fatalf("pull chart %s: %v", c, err)
		}
		if res.Chart == nil || len(res.Chart.Data) == 0 {
			t.Fatalf("chart %s pulled empty", c)
		}
	}
}
