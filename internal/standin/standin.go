// Package standin is the Agentic RAG api stand-in: a real HTTP server that
// takes the platform api's place where its image cannot be had (the local
// cluster). Its image tag decides how it behaves, so rollouts, pipelines and
// demos can ship good and bad versions:
//
//	tag contains "broken"   never ready: /health always fails
//	tag contains "regress"  /health passes until the server has answered
//	                        RegressAfterRequests other requests (a version
//	                        that breaks under production traffic; preview
//	                        checks ask /health only)
//	tag contains "crash"    exits with an error soon after start
//	anything else           healthy
//
// /health is the version's own judgement of itself (what analysis checks
// ask); /ready fails only while the server drains or when the version is
// broken, for readiness probes that should not follow a regression.
package standin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Behavior is what a version of the stand-in does.
type Behavior string

// The behaviors a tag can ask for.
const (
	Healthy Behavior = "healthy"
	Broken  Behavior = "broken"
	Regress Behavior = "regress"
	Crash   Behavior = "crash"
)

// BehaviorOf is the behavior the image tag (or version) asks for.
func BehaviorOf(tag string) Behavior {
	for _, b := range []Behavior{Broken, Regress, Crash} {
		if strings.Contains(tag, string(b)) {
			return b
		}
	}
	return Healthy
}

// HealthyIn reports whether /health of a version passes in a rollout stage:
// broken versions never pass, regressing ones stop passing once they carry
// production traffic (after a switch, or as a canary: takesTraffic). It is
// the judgement simapp makes for pods that run nothing; the real server
// makes it by time.
func (b Behavior) HealthyIn(takesTraffic bool) bool {
	switch b {
	case Broken:
		return false
	case Regress:
		return !takesTraffic
	default:
		return true
	}
}

// Config is one running version.
type Config struct {
	// Version answers every request (the image tag).
	Version string
	// Pod is the answering pod's name (its hostname).
	Pod string
	// RegressAfterRequests is how many requests other than /health a
	// regressing version answers before its /health fails.
	RegressAfterRequests int64
	// DrainDelay is how long, after the stop signal, the server keeps
	// accepting connections while failing readiness (so endpoints can be
	// updated), before it stops accepting and finishes in-flight requests.
	DrainDelay time.Duration
	// ShutdownTimeout bounds finishing in-flight requests.
	ShutdownTimeout time.Duration
	// NoDrain closes the listener and every connection the moment the stop
	// signal comes, in-flight requests and all: a server without a drain,
	// for showing what a drain protects against.
	NoDrain bool
}

// Answer is the body of every response.
type Answer struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Pod     string `json:"pod"`
	Path    string `json:"path,omitempty"`
	// Reason says why a regressing version's /health fails: the requests
	// that broke it and who sent them.
	Reason string `json:"reason,omitempty"`
}

// Server is the stand-in's HTTP handler and lifecycle.
type Server struct {
	cfg      Config
	draining atomic.Bool
	// served counts answered requests other than /health.
	served atomic.Int64
	// senders counts the requests a regressing version counts, up to its
	// regression, by what was asked and who sent it (in order of the
	// first).
	mu      sync.Mutex
	senders []string
	counts  map[string]int
	srv     *http.Server
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.health)
	mux.HandleFunc("/ready", s.ready)
	mux.HandleFunc("/resolve", s.resolve)
	mux.HandleFunc("/", s.answer)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	return s
}

// Handler serves the stand-in's routes.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

func (s *Server) healthy() bool {
	if s.draining.Load() {
		return false
	}
	switch BehaviorOf(s.cfg.Version) {
	case Broken:
		return false
	case Regress:
		return s.served.Load() < s.cfg.RegressAfterRequests
	default:
		return true
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.healthy() {
		s.reply(w, r, http.StatusOK, "ok")
		return
	}
	s.reply(w, r, http.StatusServiceUnavailable, "down")
}

// reason is why /health fails: for a regressing version, the requests
// that made it regress.
func (s *Server) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.senders) == 0 || s.healthy() {
		return ""
	}
	parts := make([]string, len(s.senders))
	for i, k := range s.senders {
		parts[i] = fmt.Sprintf("%d× %s", s.counts[k], k)
	}
	return fmt.Sprintf("regressed after %d requests: %s", s.cfg.RegressAfterRequests, strings.Join(parts, "; "))
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() || BehaviorOf(s.cfg.Version) == Broken {
		s.reply(w, r, http.StatusServiceUnavailable, "down")
		return
	}
	s.reply(w, r, http.StatusOK, "ok")
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	if n := s.served.Add(1); BehaviorOf(s.cfg.Version) == Regress && n <= s.cfg.RegressAfterRequests {
		from, _, _ := net.SplitHostPort(r.RemoteAddr)
		k := fmt.Sprintf("%s %s from %s", r.Method, r.URL.Path, from)
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			k += " (X-Forwarded-For " + xff + ")"
		}
		s.mu.Lock()
		if s.counts == nil {
			s.counts = map[string]int{}
		}
		if s.counts[k] == 0 {
			s.senders = append(s.senders, k)
		}
		s.counts[k]++
		s.mu.Unlock()
	}
	s.reply(w, r, http.StatusOK, "ok")
}

// resolve looks a name up as the pod's resolver does (?name=...): a way to
// see cluster DNS from inside a pod, which has no shell.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, r.URL.Query().Get("name"))
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "pod": s.cfg.Pod})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"addresses": addrs, "pod": s.cfg.Pod})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, code int, status string) {
	if s.draining.Load() {
		// Keep-alive clients reconnect, and so reach a pod that stays.
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	a := Answer{Status: status, Version: s.cfg.Version, Pod: s.cfg.Pod, Path: r.URL.Path}
	if code != http.StatusOK {
		a.Reason = s.reason()
	}
	_ = json.NewEncoder(w).Encode(a)
}

// Serve answers on ln until ctx is done, then drains: readiness fails at
// once, connections are still accepted for DrainDelay, then the listener
// closes, idle keep-alive connections are closed and in-flight requests
// finish (within ShutdownTimeout).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if s.cfg.NoDrain {
		_ = s.srv.Close()
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	s.draining.Store(true)
	time.Sleep(s.cfg.DrainDelay) // the drain window is a duration by design, not a wait for an event
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
