package prober

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/standin"
)

// TestStartHTTP: both modes record every request with who answered; the
// new-connection mode opens one connection per request, the kept-alive
// mode far fewer; a non-2xx answer is a failure.
func TestStartHTTP(t *testing.T) {
	var conns atomic.Int32
	var version atomic.Value
	version.Store("1.0.0")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(standin.Answer{Version: version.Load().(string), Pod: "p"})
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	var d net.Dialer
	for _, keep := range []bool{false, true} {
		conns.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		p := StartHTTP(ctx, HTTPOptions{URL: srv.URL + "/v1/ask", Rate: 200, KeepAlive: keep, Dial: d.DialContext})
		for len(p.Records()) < 20 {
			time.Sleep(5 * time.Millisecond) // waiting for the prober's own pace
		}
		version.Store("2.0.0")
		for p.Take().Version("2.0.0").Answers == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		s := summarize(p.Records())
		if s.Failed != 0 || s.Versions[0].Version != "1.0.0" || s.Version("2.0.0").Answers == 0 {
			t.Fatalf("keep-alive %t: %s", keep, s)
		}
		n := int(conns.Load())
		if !keep && n < s.Requests-1 || keep && n > s.Requests/4 {
			t.Fatalf("keep-alive %t: %d connections for %d requests", keep, n, s.Requests)
		}
		version.Store("1.0.0")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := StartHTTP(ctx, HTTPOptions{URL: srv.URL + "/down", Rate: 100, Dial: d.DialContext})
	for len(p.Records()) < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if s := summarize(p.Records()); s.Failed != s.Requests || s.LastError != "status 503" {
		t.Fatalf("503 answers: %s", s)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Unix(100, 0)
	recs := []Record{
		{At: t0, Version: "1"}, {At: t0.Add(500 * time.Millisecond), Version: "1"},
		{At: t0.Add(1200 * time.Millisecond), Err: "refused"}, {At: t0.Add(2100 * time.Millisecond), Version: "2"},
	}
	tl := Timeline(recs)
	if len(tl) != 3 || tl[0].Answers["1"] != 2 || tl[1].Failed != 1 || tl[2].Answers["2"] != 1 {
		t.Fatalf("Timeline = %+v", tl)
	}
}

// TestBetweenAndCount: Between keeps the requests sent in its window,
// whenever they completed; Count counts every completed one.
func TestBetweenAndCount(t *testing.T) {
	t0 := time.Unix(100, 0)
	p := &Prober{}
	for _, r := range []Record{
		{At: t0.Add(2 * time.Second), Version: "2"}, {At: t0, Version: "1"},
		{At: t0.Add(time.Second), Err: "refused"}, {At: t0.Add(3 * time.Second), Version: "2"},
	} {
		p.record(r)
	}
	if p.Count() != 4 {
		t.Fatalf("Count = %d; want 4", p.Count())
	}
	s := p.Between(t0.Add(time.Second), t0.Add(3*time.Second))
	if s.Requests != 2 || s.Failed != 1 || s.Version("2").Answers != 1 || s.Version("1").Answers != 0 {
		t.Fatalf("Between = %s; want the failure at +1s and the answer at +2s", s)
	}
}

// TestSlowAnswersAreCountedApart: an answer slower than SlowAfter is an
// answer, counted in Slow, not a failure.
func TestSlowAnswersAreCountedApart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(SlowAfter + 100*time.Millisecond) // the slowness under test
		_ = json.NewEncoder(w).Encode(standin.Answer{Version: "1.0.0"})
	}))
	defer srv.Close()
	var d net.Dialer
	ctx, cancel := context.WithCancel(context.Background())
	p := StartHTTP(ctx, HTTPOptions{URL: srv.URL, Rate: 5, Dial: d.DialContext})
	for p.Count() < 2 {
		time.Sleep(10 * time.Millisecond) // waiting for the answers
	}
	cancel()
	s := summarize(p.Records())
	if s.Failed != 0 || s.Slow != s.Requests || s.Slowest < SlowAfter || !strings.Contains(s.String(), "answered after") {
		t.Fatalf("slow answers: %s (slow %d, slowest %v)", s, s.Slow, s.Slowest)
	}
}
