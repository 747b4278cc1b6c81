// Command publish pushes the controller image (an OCI layout written by
// make image) and the packaged charts (dist/*.tgz) to an OCI registry:
//
//	<registry>/ragdeploy:<version>          the image index
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
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

// options are the command's flags.
type options struct {
	Registry, ImageDir, ChartsDir, Output string
	Username, Password                    string
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
		data, err := os.ReadFile(path)
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
		f, err := os.OpenFile(o.Output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
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
