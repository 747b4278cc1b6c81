// Package prober sends requests at a fixed rate to a Service, as users
// would, and records every one: when it was sent, the version and pod that
// answered (the api stand-in says both) or how it failed. From the records
// it reports failures, the switch as traffic saw it (first answer from one
// version, last from another) and a per-second timeline.
//
// Requests reach the Service from inside the cluster's network, never from
// the host's (a packet from there to a Service address would follow the
// default route off the machine): through the API server's service proxy
// (Start), or over connections dialed inside a real node's network
// namespace (StartHTTP with localcluster's DialInNode), either a new
// connection per request or long-lived keep-alive ones.
package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// Record is one request.
type Record struct {
	At      time.Time
	Version string
	Pod     string
	// Err is why the request failed ("" when answered with 2xx).
	Err string
	// Took is how long the request took.
	Took time.Duration
}

// RequestTimeout bounds one request: a request with no answer by then
// failed. An answer slower than SlowAfter is counted apart (Summary.Slow),
// e.g. one that needed a retransmitted SYN.
const (
	RequestTimeout = 5 * time.Second
	SlowAfter      = time.Second
)

// Prober is a running stream of requests.
type Prober struct {
	mu      sync.Mutex
	records []Record
	// taken is how many records earlier Takes returned.
	taken int
}

// send makes one request.
type send func(ctx context.Context) (standin.Answer, error)

// run paces send at rate a second until ctx ends. Requests overlap, so the
// rate holds whatever one takes.
func run(ctx context.Context, rate int, do send) *Prober {
	p := &Prober{}
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		inflight := make(chan struct{}, (int(RequestTimeout/time.Second)+1)*rate)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			at := time.Now()
			select {
			case inflight <- struct{}{}:
			default:
				p.record(Record{At: at, Err: fmt.Sprintf("more than %d requests in flight", cap(inflight))})
				continue
			}
			go func() {
				defer func() { <-inflight }()
				rctx, cancel := context.WithTimeout(ctx, RequestTimeout)
				defer cancel()
				a, err := do(rctx)
				if ctx.Err() != nil {
					return // stopped, not failed
				}
				r := Record{At: at, Version: a.Version, Pod: a.Pod, Took: time.Since(at)}
				if err != nil {
					r.Err = err.Error()
				}
				p.record(r)
			}()
		}
	}()
	return p
}

func (p *Prober) record(r Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r)
}

// ServiceOptions describe a stream of requests to a Service through the
// API server's service proxy (which reaches it from inside the cluster's
// network, on any cluster the user may proxy to).
type ServiceOptions struct {
	Namespace, Name string
	// Port is the Service port's number or name (default 8000).
	Port string
	// Path asked with GET (default /v1/ask).
	Path string
	Rate int
}

// Start sends o.Rate requests a second to the Service through the API
// server's service proxy until ctx ends. The client's own rate limit must
// allow it (see Config).
func Start(ctx context.Context, cs kubernetes.Interface, o ServiceOptions) *Prober {
	if o.Port == "" {
		o.Port = "8000"
	}
	if o.Path == "" {
		o.Path = "/v1/ask"
	}
	return run(ctx, o.Rate, func(ctx context.Context) (standin.Answer, error) {
		var a standin.Answer
		body, err := cs.CoreV1().Services(o.Namespace).ProxyGet("http", o.Name, o.Port, o.Path, nil).DoRaw(ctx)
		if err == nil {
			a = answerOf(body)
		}
		return a, err
	})
}

// answerOf reads who answered from a 2xx body: the stand-in's (or any
// service's) JSON "version" and "pod"; a body without them is still an
// answer, from an unnamed version.
func answerOf(body []byte) standin.Answer {
	var a standin.Answer
	_ = json.Unmarshal(body, &a)
	return a
}

// HTTPOptions describe a stream of plain HTTP requests.
type HTTPOptions struct {
	// URL is asked with GET, e.g. http://<ClusterIP>:8000/v1/ask.
	URL  string
	Rate int
	// KeepAlive reuses connections (a pool of long-lived ones, as a browser
	// or a service client keeps); otherwise every request opens a new one.
	KeepAlive bool
	// Dial opens the connections (inside a node's network).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// StartHTTP sends o.Rate requests a second to o.URL until ctx ends.
func StartHTTP(ctx context.Context, o HTTPOptions) *Prober {
	transport := &http.Transport{DialContext: o.Dial, DisableKeepAlives: !o.KeepAlive, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}
	client := &http.Client{Transport: transport}
	context.AfterFunc(ctx, transport.CloseIdleConnections)
	return run(ctx, o.Rate, func(ctx context.Context) (standin.Answer, error) {
		var a standin.Answer
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
		if err != nil {
			return a, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return a, err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return a, err
		}
		if resp.StatusCode/100 != 2 {
			return a, fmt.Errorf("status %d", resp.StatusCode)
		}
		return answerOf(body), nil
	})
}

// Take returns a summary of the requests since the last Take.
func (p *Prober) Take() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	recs := p.records[p.taken:]
	p.taken = len(p.records)
	return summarize(recs)
}

// Latest is the request completed last (ok false before any).
func (p *Prober) Latest() (Record, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.records) == 0 {
		return Record{}, false
	}
	return p.records[len(p.records)-1], true
}

// Count is how many requests have completed so far.
func (p *Prober) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.records)
}

// Between summarizes the requests sent from from (inclusive) to to
// (exclusive), whenever they completed.
func (p *Prober) Between(from, to time.Time) Summary {
	var recs []Record
	for _, r := range p.Records() {
		if !r.At.Before(from) && r.At.Before(to) {
			recs = append(recs, r)
		}
	}
	return summarize(recs)
}

// Records returns a copy of every record so far, in the order sent.
func (p *Prober) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Record(nil), p.records...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func summarize(recs []Record) Summary {
	s := Summary{Requests: len(recs)}
	index := map[string]int{}
	for _, r := range recs {
		if r.Err != "" {
			s.Failed++
			s.LastError = r.Err
			continue
		}
		if r.Took >= SlowAfter {
			s.Slow++
			s.Slowest = max(s.Slowest, r.Took)
		}
		i, seen := index[r.Version]
		if !seen {
			i = len(s.Versions)
			index[r.Version] = i
			s.Versions = append(s.Versions, VersionCount{Version: r.Version, First: r.At})
		}
		s.Versions[i].Answers++
		s.Versions[i].Last = r.At
	}
	return s
}

// Summary is what the requests of a period saw.
type Summary struct {
	Requests, Failed int
	// Slow counts answers that took SlowAfter or more; Slowest is the
	// slowest of them.
	Slow    int
	Slowest time.Duration
	// Versions that answered, in the order of their first answer.
	Versions  []VersionCount
	LastError string
}

// VersionCount is how many answers a version gave, and when the first and
// the last were sent.
type VersionCount struct {
	Version     string
	Answers     int
	First, Last time.Time
}

// Version is the count of one version (zero when it never answered).
func (s Summary) Version(v string) VersionCount {
	for _, c := range s.Versions {
		if c.Version == v {
			return c
		}
	}
	return VersionCount{Version: v}
}

func (s Summary) String() string {
	var by []string
	for _, v := range s.Versions {
		by = append(by, fmt.Sprintf("%s %d", v.Version, v.Answers))
	}
	out := fmt.Sprintf("%d requests, %d failed; answered by %s (in order of first answer)", s.Requests, s.Failed, strings.Join(by, ", "))
	if s.Slow > 0 {
		out += fmt.Sprintf("; %d answered after %v or more (slowest %v)", s.Slow, SlowAfter, s.Slowest.Round(time.Millisecond))
	}
	if s.Failed > 0 {
		out += "; last failure: " + s.LastError
	}
	return out
}

// Timeline counts answers per version and failures per second of recs,
// from the first record.
func Timeline(recs []Record) []Second {
	if len(recs) == 0 {
		return nil
	}
	start := recs[0].At
	var out []Second
	for _, r := range recs {
		i := int(r.At.Sub(start) / time.Second)
		for len(out) <= i {
			out = append(out, Second{Answers: map[string]int{}})
		}
		if r.Err != "" {
			out[i].Failed++
		} else {
			out[i].Answers[r.Version]++
		}
	}
	return out
}

// Second is one second of a timeline.
type Second struct {
	Answers map[string]int
	Failed  int
}

// Config is cfg with a client rate limit that lets rate requests a second
// through (client-go's default is 5).
func Config(cfg *rest.Config, rate int) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = float32(2*rate), 2*rate
	return c
}
