// Command publish pushes the controller image (an OCI layout written by
// make image) and the packaged charts (dist/*.tgz) to an OCI registry:
//
//	<registry>/ragdeploy:<version>          the image index
//	<registry>/ragdeploy@<digest>           its SBOM (--sbom), an OCI artifact
//	                                        whose subject is the index (referrers API)
//	<registry>/charts/<chart>:<version>     each chart (helm pull oci://...)
//
// Credentials come from the Docker config (docker/login-action, cosign and
// Helm read it too) or --username with --password-stdin. With --output it
// appends image=<ref@digest> and digest=<digest> (GitHub step outputs).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

// options are the command's flags.
type options struct {
	Registry, ImageDir, ChartsDir, Output string
	// SBOM is a CycloneDX JSON file (make sbom) attached to the image.
	SBOM               string
	Username, Password string
	// PlainHTTP talks to a registry without TLS (tests, local registries).
	PlainHTTP bool
}

func main() {
	var o options
	var passwordStdin bool
	flag.StringVar(&o.Registry, "registry", "", "registry and namespace, e.g. ghcr.io/agentic-rag")
	flag.StringVar(&o.ImageDir, "image", "dist/image", "OCI layout written by make image")
	flag.StringVar(&o.ChartsDir, "charts", "dist", "directory of packaged charts (*.tgz)")
	flag.StringVar(&o.Output, "output", "", "file to append image= and digest= lines to")
	flag.StringVar(&o.SBOM, "sbom", "", "CycloneDX SBOM (make sbom) to attach to the image as an OCI artifact")
	flag.StringVar(&o.Username, "username", "", "registry user (with --password-stdin)")
	flag.BoolVar(&passwordStdin, "password-stdin", false, "read the registry password from stdin")
	flag.BoolVar(&o.PlainHTTP, "plain-http", false, "use HTTP instead of HTTPS")
	flag.Parse()
	if passwordStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(os.Stderr, "publish: --password-stdin: %v\n", err)
			os.Exit(1)
		}
		o.Password = strings.TrimSpace(line)
	}
	out, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "publish: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// run pushes everything and returns what it pushed, one line each.
func run(o options) (string, error) {
	if o.Registry == "" {
		return "", fmt.Errorf("--registry is required (e.g. ghcr.io/agentic-rag)")
	}
	idx, err := image.ReadLayout(o.ImageDir)
	if err != nil {
		return "", fmt.Errorf("%w (hint: make image)", err)
	}
	version, err := indexVersion(idx)
	if err != nil {
		return "", err
	}
	var nameOpts []name.Option
	if o.PlainHTTP {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.NewTag(o.Registry+"/ragdeploy:"+version, nameOpts...)
	if err != nil {
		return "", err
	}
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if o.Username != "" {
		auth = remote.WithAuth(&authn.Basic{Username: o.Username, Password: o.Password})
	}
	if err := remote.WriteIndex(ref, idx, auth); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pushed %s@%s\n", ref, digest)
	if o.SBOM != "" {
		sbomRef, err := attachSBOM(ref.Context(), idx, o.SBOM, auth)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "pushed SBOM %s (subject %s)\n", sbomRef, digest)
	}

	clientOpts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
	if o.Username != "" {
		clientOpts = append(clientOpts, registry.ClientOptBasicAuth(o.Username, o.Password))
	}
	if o.PlainHTTP {
		clientOpts = append(clientOpts, registry.ClientOptPlainHTTP())
	}
	rc, err := registry.NewClient(clientOpts...)
	if err != nil {
		return "", err
	}
	charts, err := filepath.Glob(filepath.Join(o.ChartsDir, "*.tgz"))
	if err != nil || len(charts) == 0 {
		return "", fmt.Errorf("no charts in %s (hint: make chart-package)", o.ChartsDir)
	}
	for _, path := range charts {
		c, err := loader.LoadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		data, err := os.ReadFile(path) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
		if err != nil {
			return "", err
		}
		target := fmt.Sprintf("%s/charts/%s:%s", o.Registry, c.Name(), c.Metadata.Version)
		res, err := rc.Push(data, target)
		if err != nil {
			return "", fmt.Errorf("push chart %s: %w", target, err)
		}
		fmt.Fprintf(&b, "pushed oci://%s@%s\n", target, res.Manifest.Digest)
	}
	if o.Output != "" {
		f, err := os.OpenFile(o.Output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644) //nolint:gosec // G302: an output list of pushed references, meant to be read by CI; no secret
		if err != nil {
			return "", err
		}
		_, err = fmt.Fprintf(f, "image=%s@%s\ndigest=%s\n", ref.Context(), digest, digest)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// indexVersion reads the version label of the index's first image.
func indexVersion(idx v1.ImageIndex) (string, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	if len(m.Manifests) == 0 {
		return "", fmt.Errorf("image index without images")
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	v := cfg.Config.Labels["org.opencontainers.image.version"]
	if v == "" {
		return "", fmt.Errorf("image has no org.opencontainers.image.version label")
	}
	return v, nil
}

// SBOMMediaType is the CycloneDX JSON media type: the SBOM layer's, and the
// artifact's type (its config media type) that referrers filter on.
const SBOMMediaType = "application/vnd.cyclonedx+json"

// attachSBOM pushes the SBOM file as an OCI artifact whose subject is the
// image index, so registries list it among the index's referrers.
func attachSBOM(repo name.Repository, idx v1.ImageIndex, path string, auth remote.Option) (name.Digest, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the SBOM file the caller named
	if err != nil {
		return name.Digest{}, fmt.Errorf("%w (hint: make sbom)", err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return name.Digest{}, err
	}
	size, err := idx.Size()
	if err != nil {
		return name.Digest{}, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	artifact, err := mutate.AppendLayers(empty.Image, static.NewLayer(data, SBOMMediaType))
	if err != nil {
		return name.Digest{}, err
	}
	artifact = mutate.ConfigMediaType(mutate.MediaType(artifact, types.OCIManifestSchema1), SBOMMediaType)
	withSubject, ok := mutate.Subject(artifact, v1.Descriptor{MediaType: mt, Size: size, Digest: digest}).(v1.Image)
	if !ok {
		return name.Digest{}, fmt.Errorf("SBOM artifact: not an image")
	}
	d, err := withSubject.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	ref := repo.Digest(d.String())
	if err := remote.Write(ref, withSubject, auth); err != nil {
		return name.Digest{}, fmt.Errorf("push SBOM %s: %w", ref, err)
	}
	return ref, nil
}
