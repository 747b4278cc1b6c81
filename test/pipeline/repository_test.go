package pipeline

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// No binary and no file over 1 MiB is committed (generated CRDs aside):
// build outputs belong in bin/ or dist/, which are ignored.
func TestNoBinaryOrLargeFileCommitted(t *testing.T) {
	root := filepath.Join("..", "..")
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output() //nolint:gosec // G204: git on this repository, arguments as a list
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git lists %d files; want the repository's", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f)) //nolint:gosec // G304: a file git tracks in this repository
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(data) > 1<<20 && !strings.HasPrefix(f, "charts/ragdeploy/crds/"):
			t.Errorf("%s is %d bytes: over 1 MiB", f, len(data))
		case bytes.HasPrefix(data, []byte("\x7fELF")) || bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0:
			t.Errorf("%s is a binary file (build outputs go to bin/ or dist/)", f)
		}
	}
}
