package localcluster

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// refAnnotation names an image in an OCI layout's index.
const refAnnotation = "org.opencontainers.image.ref.name"

// Load pushes the images of an image tarball into the local registry at
// registry (host loopback), under the names the tarball gives them, or
// under ref when it is set. It takes `docker save` tarballs (their
// RepoTags) and OCI image layouts as tarballs (`make image`, their
// org.opencontainers.image.ref.name annotations). It returns the names
// loaded.
func Load(registry, path, ref string) ([]string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the tarball the user named
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	files, err := tarNames(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an image tarball: %w", path, err)
	}
	switch {
	case files["manifest.json"]:
		return loadDocker(registry, path, ref)
	case files["index.json"] && files["oci-layout"]:
		return loadLayout(registry, path, ref)
	default:
		return nil, fmt.Errorf("%s: neither a docker save tarball (manifest.json) nor an OCI image layout (index.json, oci-layout)", path)
	}
}

func tarNames(r io.Reader) (map[string]bool, error) {
	names := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names[strings.TrimPrefix(filepath.Clean(h.Name), "./")] = true
	}
}

// localRef is ref in the local registry; the error says what a good one is.
func localRef(registry, ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w (want repository:tag, e.g. agentic-rag/api:1.0.0)", ref, err)
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("image name %q: give a tag, not a digest: pods name images by tag", ref)
	}
	return name.NewTag(registry+"/"+tag.RepositoryStr()+":"+tag.TagStr(), name.Insecure)
}

func loadDocker(registry, path, ref string) ([]string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) }) //nolint:gosec // G304: the tarball the user named
	if err != nil {
		return nil, err
	}
	var loaded []string
	for i, desc := range m {
		tags := desc.RepoTags
		if ref != "" {
			if len(m) > 1 {
				return nil, fmt.Errorf("%s holds %d images: --name names one", path, len(m))
			}
			tags = []string{ref}
		}
		if len(tags) == 0 {
			return nil, fmt.Errorf("%s: image %d has no name (RepoTags): give one with --name", path, i)
		}
		for _, t := range tags {
			dst, err := localRef(registry, t)
			if err != nil {
				return nil, err
			}
			var img v1.Image
			if ref != "" {
				img, err = tarball.ImageFromPath(path, nil)
			} else {
				tag, terr := name.NewTag(t)
				if terr != nil {
					return nil, terr
				}
				img, err = tarball.ImageFromPath(path, &tag)
			}
			if err != nil {
				return nil, err
			}
			if err := remote.Write(dst, img); err != nil {
				return nil, fmt.Errorf("push %s into the local registry: %w", t, err)
			}
			loaded = append(loaded, t)
		}
	}
	return loaded, nil
}

func loadLayout(registry, path, ref string) ([]string, error) {
	dir, err := os.MkdirTemp("", "ragdeploy-load-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := untar(path, dir); err != nil {
		return nil, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if ref != "" && len(m.Manifests) > 1 {
		return nil, fmt.Errorf("%s holds %d images: --name names one", path, len(m.Manifests))
	}
	var loaded []string
	for _, desc := range m.Manifests {
		n := ref
		if n == "" {
			n = desc.Annotations[refAnnotation]
		}
		if n == "" || !strings.Contains(n, ":") {
			return nil, fmt.Errorf("%s: image %s has no name (%s annotation): give one with --name", path, desc.Digest, refAnnotation)
		}
		dst, err := localRef(registry, n)
		if err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, err
			}
			err = remote.WriteIndex(dst, child)
			if err != nil {
				return nil, fmt.Errorf("push %s into the local registry: %w", n, err)
			}
		} else {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, err
			}
			if err := remote.Write(dst, img); err != nil {
				return nil, fmt.Errorf("push %s into the local registry: %w", n, err)
			}
		}
		loaded = append(loaded, n)
	}
	return loaded, nil
}

// untar extracts the regular files and directories of a tarball into dir,
// refusing names that would leave it.
func untar(path, dir string) error {
	f, err := os.Open(path) //nolint:gosec // G304: the tarball the user named
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// Clean of a rooted name keeps it inside dir.
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // G304: inside the temporary directory
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr) //nolint:gosec // G110: the user's own image tarball
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
