package localcluster

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

// StandinRepository is the api stand-in's image repository: the registry
// answers for any tag of it with the stand-in, its version set to the tag.
const StandinRepository = "agentic-rag/api"

// localRegistry is the local cluster's OCI registry (go-containerregistry's
// in-memory one). containerd on every real node uses it as the mirror of
// every registry, so manifests keep their image names; it holds the images
// the cluster needs and those `local load` adds.
type localRegistry struct {
	handler http.Handler
	// standin is the stand-in's one-binary image; each tag is this image
	// with AGENTIC_RAG_VERSION set to the tag.
	standin v1.Image
	// busybox, when the host has a static busybox, answers for any tag of
	// busybox (the chart's test image).
	busybox v1.Image
	mu      sync.Mutex
	// tags are the repo:tag images made on demand so far.
	tags map[string]bool
}

// newLocalRegistry keeps blobs under dir (images are large; the supervisor
// need not hold them in memory).
func newLocalRegistry(dir string, standin v1.Image) (*localRegistry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	quiet := log.New(io.Discard, "", 0)
	h := registry.New(registry.Logger(quiet), registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)))
	return &localRegistry{handler: h, standin: standin, tags: map[string]bool{}}, nil
}

// inProcess sends requests to the registry's handler without a network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if req.Body == nil {
		// A server's request always has a body; handlers rely on it.
		req.Body = http.NoBody
	}
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// push stores img as repo:tag.
func (r *localRegistry) push(repo, tag string, img v1.Image) error {
	ref, err := name.NewTag("registry.local/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithTransport(inProcess{r.handler})); err != nil {
		return fmt.Errorf("push %s:%s into the local registry: %w", repo, tag, err)
	}
	return nil
}

// pushRef stores img under a full image reference (registry.k8s.io/pause:3.10)
// as the mirror is asked for it: by repository and tag, whatever the
// registry host.
func (r *localRegistry) pushRef(ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return r.push(tag.RepositoryStr(), tag.TagStr(), img)
}

// manifestPath matches a manifest request by tag: repository and tag.
var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$`)

// busyboxRepository is where busybox is asked for (docker.io/library/busybox).
const busyboxRepository = "library/busybox"

// ensureTag pushes, on first demand, the image the registry makes for any
// tag of the stand-in and of busybox; other repositories hold what was
// pushed.
func (r *localRegistry) ensureTag(repo, tag string) error {
	var build func() (v1.Image, error)
	switch {
	case repo == StandinRepository:
		build = func() (v1.Image, error) { return r.standinFor(tag) }
	case repo == busyboxRepository && r.busybox != nil:
		build = func() (v1.Image, error) { return r.busybox, nil }
	default:
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := repo + ":" + tag
	if r.tags[key] {
		return nil
	}
	img, err := build()
	if err != nil {
		return err
	}
	if err := r.push(repo, tag, img); err != nil {
		return err
	}
	r.tags[key] = true
	return nil
}

// standinFor is the stand-in with its version set to tag.
func (r *localRegistry) standinFor(tag string) (v1.Image, error) {
	cfg, err := r.standin.ConfigFile()
	if err != nil {
		return nil, err
	}
	c := cfg.Config
	c.Env = append([]string{"AGENTIC_RAG_VERSION=" + tag}, c.Env...)
	return image.WithConfig(r.standin, cfg.OS, cfg.Architecture, cfg.Created.Time, c)
}

// ServeHTTP answers the OCI distribution API, making stand-in and busybox
// tags on demand.
func (r *localRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if m := manifestPath.FindStringSubmatch(req.URL.Path); m != nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		if err := r.ensureTag(m[1], m[2]); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	r.handler.ServeHTTP(w, req)
}

// serve answers on ln until the returned function is called; readOnly
// refuses every method but GET and HEAD (what pods on a node could reach).
func (r *localRegistry) serve(ln net.Listener, readOnly bool) func() {
	h := http.Handler(r)
	if readOnly {
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				http.Error(w, "read-only: push with `ragdeploy local load`", http.StatusMethodNotAllowed)
				return
			}
			r.ServeHTTP(w, req)
		})
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
