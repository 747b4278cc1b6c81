// Package image builds the controller's OCI image without Docker: a static
// ragdeploy binary per platform in a single layer on an empty base (no
// shell, no package manager), run as a non-root user. Every input is pinned
// (file times, ownership, build flags, creation time from the commit), so the
// same commit gives the same digest.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the numeric user and group the controller runs as.
const User = "65532:65532"

// Options describe a build.
type Options struct {
	// Platforms such as linux/amd64.
	Platforms []string
	// Version and Commit are stamped into the binary and the labels.
	Version, Commit string
	// Created is the image creation time (the commit time, for
	// reproducibility).
	Created time.Time
	// Package is the main package to build (./cmd/ragdeploy), from Dir.
	Package, Dir string
}

// Build compiles the binary for each platform and returns the image index.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		osName, arch, ok := strings.Cut(p, "/")
		if !ok {
			return nil, fmt.Errorf("platform %q: want os/arch", p)
		}
		bin, err := compile(ctx, o, osName, arch)
		if err != nil {
			return nil, err
		}
		img, err := imageFor(o, osName, arch, bin)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	return idx, nil
}

// compile builds a static, reproducible binary.
func compile(ctx context.Context, o Options, osName, arch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "ragdeploy-image-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	out := filepath.Join(dir, "ragdeploy")
	ldflags := fmt.Sprintf("-s -w -X github.com/agentic-rag/ragdeploy/internal/cli.Version=%s -X github.com/agentic-rag/ragdeploy/internal/cli.Commit=%s", o.Version, o.Commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, o.Package) //nolint:gosec // G204: runs a binary this program built or pinned, with arguments as a list (no shell)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+osName, "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build for %s/%s: %w\n%s", osName, arch, err, stderr.String())
	}
	return os.ReadFile(out) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
}

// imageFor wraps the controller binary in a one-layer image.
func imageFor(o Options, osName, arch string, bin []byte) (v1.Image, error) {
	return FromBinary(Binary{
		Name: "ragdeploy", Data: bin, OS: osName, Arch: arch, Created: o.Created,
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{"/ragdeploy"},
			Cmd:        []string{"controller"},
			Labels: map[string]string{
				"org.opencontainers.image.title":    "ragdeploy",
				"org.opencontainers.image.version":  o.Version,
				"org.opencontainers.image.revision": o.Commit,
				"org.opencontainers.image.source":   "https://github.com/agentic-rag/ragdeploy",
			},
		},
	})
}

// Binary is a one-file image: an executable at /<Name> on an empty base.
type Binary struct {
	Name     string
	Data     []byte
	OS, Arch string
	Created  time.Time
	// Config is the runtime configuration (entrypoint, user, env, labels).
	Config v1.Config
	// Links are more paths (bin/sh) made symbolic links to /<Name>, for a
	// multi-call binary.
	Links []string
}

// FromBinary builds the one-layer image of b, with pinned metadata so the
// same binary gives the same digest.
func FromBinary(b Binary) (v1.Image, error) {
	layerTar, err := fileTar(b.Name, b.Data, b.Created, b.Links...)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "ragdeploy image builder: /" + b.Name, Created: v1.Time{Time: b.Created}},
	})
	if err != nil {
		return nil, err
	}
	return WithConfig(mutate.ConfigMediaType(img, types.OCIConfigJSON), b.OS, b.Arch, b.Created, b.Config)
}

// WithConfig returns img with its platform, creation time and runtime
// configuration replaced.
func WithConfig(img v1.Image, osName, arch string, created time.Time, c v1.Config) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = osName, arch, v1.Time{Time: created}
	cfg.Config = c
	return mutate.ConfigFile(img, cfg)
}

// fileTar is a tar holding one executable, and symbolic links to it, with
// pinned metadata.
func fileTar(name string, data []byte, mtime time.Time, links ...string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: name, Mode: 0o555, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	for _, l := range links {
		if err := tw.WriteHeader(&tar.Header{Name: l, Linkname: "/" + name, Mode: 0o777, ModTime: mtime, Typeflag: tar.TypeSymlink, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout writes the index as an OCI image layout directory (replacing
// what was there) and returns the index digest.
func WriteLayout(dir string, idx v1.ImageIndex) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendIndex(idx); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// ReadLayout reads back the index a WriteLayout wrote.
func ReadLayout(dir string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	outer, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := outer.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d entries in index.json; want 1", dir, len(m.Manifests))
	}
	return outer.ImageIndex(m.Manifests[0].Digest)
}

// FromExecutable is the controller image of a ragdeploy binary that is
// already built (the running one, for the local cluster). The binary must
// be statically linked: the image has no libc.
func FromExecutable(path, version, commit string) (v1.Image, error) {
	if err := static(path); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path) //nolint:gosec // G304: the running executable
	if err != nil {
		return nil, err
	}
	return imageFor(Options{Version: version, Commit: commit, Created: time.Unix(0, 0).UTC()}, "linux", runtime.GOARCH, bin)
}

// static fails for an executable that needs a dynamic loader.
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, so it cannot run in the controller image (no libc there): build it with CGO_ENABLED=0 (make build does)", path)
		}
	}
	return nil
}
