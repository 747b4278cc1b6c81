// Package prober sends requests at a fixed rate to a Service, as users
// would, and counts who answered: the version and pod of every answer (the
// api stand-in says both) and every failure. Requests go through the API
// server's service proxy, which reaches the Service from inside the real
// node's network: the host never dials a Service address.
package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// Prober is a running stream of requests.
type Prober struct {
	mu       sync.Mutex
	requests int
	failed   int
	lastErr  string
	versions map[string]int
	order    []string
}

// Start asks ns/service on port 8000 for /v1/ask, rate times a second, until
// ctx ends. Requests overlap, so the rate holds whatever one takes; the
// client's own rate limit must allow it (see Config).
func Start(ctx context.Context, cs kubernetes.Interface, ns, service string, rate int) *Prober {
	p := &Prober{versions: map[string]int{}}
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		// Requests overlap, so the rate holds whatever one takes.
		inflight := make(chan struct{}, 4*rate)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case inflight <- struct{}{}:
			default:
				p.record("", fmt.Errorf("more than %d requests in flight", cap(inflight)))
				continue
			}
			go func() {
				defer func() { <-inflight }()
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				body, err := cs.CoreV1().Services(ns).ProxyGet("http", service, "8000", "/v1/ask", nil).DoRaw(rctx)
				if ctx.Err() != nil {
					return
				}
				var a standin.Answer
				if err == nil {
					err = json.Unmarshal(body, &a)
				}
				p.record(a.Version, err)
			}()
		}
	}()
	return p
}

func (p *Prober) record(version string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if err != nil {
		p.failed++
		p.lastErr = err.Error()
		return
	}
	if _, seen := p.versions[version]; !seen {
		p.order = append(p.order, version)
	}
	p.versions[version]++
}

// Take returns a summary of the traffic since the last Take and starts
// counting anew.
func (p *Prober) Take() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Summary{Requests: p.requests, Failed: p.failed, LastError: p.lastErr}
	for _, v := range p.order {
		s.Versions = append(s.Versions, VersionCount{Version: v, Answers: p.versions[v]})
	}
	p.requests, p.failed, p.lastErr, p.versions, p.order = 0, 0, "", map[string]int{}, nil
	return s
}

// Summary is what the requests of a period saw.
type Summary struct {
	Requests, Failed int
	// Versions that answered, in the order of their first answer.
	Versions  []VersionCount
	LastError string
}

// VersionCount is how many answers a version gave.
type VersionCount struct {
	Version string
	Answers int
}

func (s Summary) String() string {
	var by []string
	for _, v := range s.Versions {
		by = append(by, fmt.Sprintf("%s %d", v.Version, v.Answers))
	}
	out := fmt.Sprintf("%d requests, %d failed; answered by %s (in order of first answer)", s.Requests, s.Failed, strings.Join(by, ", "))
	if s.Failed > 0 {
		out += "; last failure: " + s.LastError
	}
	return out
}

// Config is cfg with a client rate limit that lets rate requests a second
// through (client-go's default is 5).
func Config(cfg *rest.Config, rate int) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = float32(2*rate), 2*rate
	return c
}
