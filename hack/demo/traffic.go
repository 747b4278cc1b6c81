package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// traffic asks the api's active Service for a page at a fixed rate, as a
// user would, through the API server's service proxy (which reaches the
// Service from inside the real node's network; the host never dials a
// Service address), and counts who answered.
type traffic struct {
	mu       sync.Mutex
	requests int
	failed   int
	lastErr  string
	versions map[string]int
	order    []string
}

func startTraffic(ctx context.Context, cs kubernetes.Interface, ns, service string, rate int) *traffic {
	t := &traffic{versions: map[string]int{}}
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
				t.record("", fmt.Errorf("more than %d requests in flight", cap(inflight)))
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
				t.record(a.Version, err)
			}()
		}
	}()
	return t
}

func (t *traffic) record(version string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if err != nil {
		t.failed++
		t.lastErr = err.Error()
		return
	}
	if _, seen := t.versions[version]; !seen {
		t.order = append(t.order, version)
	}
	t.versions[version]++
}

// take returns a summary of the traffic since the last take and resets it.
func (t *traffic) take() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var by []string
	for _, v := range t.order {
		by = append(by, fmt.Sprintf("%s %d", v, t.versions[v]))
	}
	s := fmt.Sprintf("%d requests, %d failed; answered by %s (in order of first answer)", t.requests, t.failed, strings.Join(by, ", "))
	if t.failed > 0 {
		s += "; last failure: " + t.lastErr
	}
	t.requests, t.failed, t.lastErr, t.versions, t.order = 0, 0, "", map[string]int{}, nil
	return s
}
