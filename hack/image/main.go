// Command image builds the controller image without Docker (make image):
// an OCI image layout in --out and the same layout as a tarball in --tar,
// for each of --platforms. It prints the image index digest; the same commit
// gives the same digest.
package main

import (
	"archive/tar"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

func main() {
	platforms := flag.String("platforms", "linux/amd64", "comma-separated os/arch list")
	out := flag.String("out", "dist/image", "OCI image layout directory to write")
	tarPath := flag.String("tar", "dist/ragdeploy-image.tar", "the layout as a tarball (empty: none)")
	version := flag.String("version", "dev", "version stamped into the binary and labels")
	commit := flag.String("commit", "unknown", "commit stamped into the binary and labels")
	created := flag.Int64("created", 0, "creation time, seconds since the epoch (make passes the commit time)")
	flag.Parse()
	if err := run(*platforms, *out, *tarPath, *version, *commit, *created); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(platforms, out, tarPath, version, commit string, created int64) error {
	idx, err := image.Build(context.Background(), image.Options{
		Platforms: strings.Split(platforms, ","), Version: version, Commit: commit,
		Created: time.Unix(created, 0).UTC(), Package: "./cmd/ragdeploy", Dir: ".",
	})
	if err != nil {
		return err
	}
	digest, err := image.WriteLayout(out, idx)
	if err != nil {
		return err
	}
	if tarPath != "" {
		if err := tarDir(out, tarPath); err != nil {
			return err
		}
	}
	fmt.Printf("ragdeploy image %s (%s) in %s\n", digest, platforms, out)
	return nil
}

// tarDir writes dir as a tarball with sorted entries and pinned metadata.
func tarDir(dir, path string) error {
	f, err := os.Create(path) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Mode, hdr.Name = tar.TypeDir, 0o755, hdr.Name+"/"
			return tw.WriteHeader(hdr)
		}
		data, err := os.ReadFile(p) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
