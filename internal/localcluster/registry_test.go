package localcluster

import (
	"archive/tar"
	"bufio"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

// testRegistry serves a local registry on loopback, its stand-in a random
// image.
func testRegistry(t *testing.T) (*localRegistry, string) {
	t.Helper()
	standin, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newLocalRegistry(t.TempDir(), standin)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.serve(ln, false))
	return r, ln.Addr().String()
}

func pull(t *testing.T, registry, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(registry+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return img
}

// TestStandinForAnyTag: every tag of the stand-in is the stand-in with its
// version set to the tag, made on first demand.
func TestStandinForAnyTag(t *testing.T) {
	_, addr := testRegistry(t)
	for _, tag := range []string{"1.0.0", "2.1.0-regress"} {
		cfg, err := pull(t, addr, StandinRepository+":"+tag).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Config.Env) == 0 || cfg.Config.Env[0] != "AGENTIC_RAG_VERSION="+tag {
			t.Fatalf("%s: env %v; want AGENTIC_RAG_VERSION=%s first", tag, cfg.Config.Env, tag)
		}
	}
}

// TestNodeFaceIsReadOnly: what pods on a node can reach cannot be pushed to.
func TestNodeFaceIsReadOnly(t *testing.T) {
	r, _ := testRegistry(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.serve(ln, true)()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v2/x/blobs/uploads/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("push through the node face: %d; want 405", resp.StatusCode)
	}
}

// writeLayoutTar writes img as an OCI layout tarball, its index entry
// annotated with ref when set.
func writeLayoutTar(t *testing.T, img v1.Image, ref string) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{refAnnotation: ref}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout.tar")
	f, err := os.Create(out) //nolint:gosec // G304: the test's own temporary file
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	root := filepath.Join(dir, "layout")
	if err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path) //nolint:gosec // G304: the test's own temporary file
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoad(t *testing.T) {
	_, addr := testRegistry(t)
	img, err := image.FromBinary(image.Binary{Name: "tool", Data: []byte("#!"), OS: "linux", Arch: "amd64", Created: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// The config is what every tarball format keeps as it is (docker
	// tarballs rewrite the manifest).
	want, _ := img.ConfigName()
	docker := filepath.Join(t.TempDir(), "docker.tar")
	if err := tarball.WriteToFile(docker, name.MustParseReference("shop/tool:1"), img); err != nil {
		t.Fatal(err)
	}
	named := writeLayoutTar(t, img, "shop/tool:2")
	unnamed := writeLayoutTar(t, img, "")
	notTar := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(notTar, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, path, ref string
		// pulled is what must then be in the registry; wantErr the error.
		pulled, wantErr string
	}{
		{"docker tarball by its tag", docker, "", "shop/tool:1", ""},
		{"docker tarball renamed", docker, "shop/tool:1b", "shop/tool:1b", ""},
		{"layout by its annotation", named, "", "shop/tool:2", ""},
		{"layout named on the command line", unnamed, "shop/tool:3", "shop/tool:3", ""},
		{"layout without a name", unnamed, "", "", "has no name"},
		{"a digest is no name", docker, "shop/tool@sha256:" + strings.Repeat("a", 64), "", "give a tag"},
		{"not a tarball", notTar, "", "", "not an image tarball"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(addr, tt.path, tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: %v %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := pull(t, addr, tt.pulled).ConfigName(); d != want {
				t.Fatalf("%s is %s; want %s", tt.pulled, d, want)
			}
		})
	}
}

// TestEgressProxyRefuses: the API server's way into the nodes' network
// serves CONNECT only, and says so when no node runs.
func TestEgressProxyRefuses(t *testing.T) {
	p, err := listenEgress(filepath.Join(t.TempDir(), "e.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	go p.serve(t.Context())
	for _, tt := range []struct{ request, want string }{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
		{"CONNECT 10.245.0.5:8000 HTTP/1.1\r\nHost: 10.245.0.5:8000\r\n\r\n", "503"},
	} {
		conn, err := net.Dial("unix", p.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(tt.request)); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		_ = conn.Close()
		if err != nil || !strings.Contains(line, tt.want) {
			t.Fatalf("%q answered %q %v; want %s", tt.request, line, err, tt.want)
		}
	}
}

func TestCgroupRootOfIsStablePerStateDir(t *testing.T) {
	a, b := cgroupRootOf("/tmp/a/state"), cgroupRootOf("/tmp/b/state")
	if a != cgroupRootOf("/tmp/a/state") || a == b || !strings.HasPrefix(a, "ragdeploy-") {
		t.Fatalf("cgroupRootOf: %q %q", a, b)
	}
}
