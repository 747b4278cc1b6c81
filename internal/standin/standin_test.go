package standin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestBehaviorOf(t *testing.T) {
	for tag, want := range map[string]Behavior{
		"1.0.0": Healthy, "1.1.0-broken": Broken, "2.0.0-regress": Regress, "3.0-crash": Crash, "latest": Healthy,
	} {
		if got := BehaviorOf(tag); got != want {
			t.Errorf("BehaviorOf(%q) = %s, want %s", tag, got, want)
		}
	}
	if Regress.HealthyIn(true) || !Regress.HealthyIn(false) || Broken.HealthyIn(false) || !Healthy.HealthyIn(true) {
		t.Error("HealthyIn: regress passes only before promotion, broken never, healthy always")
	}
}

// get returns the status, the answer and whether the server asked to close
// the connection.
func get(t *testing.T, url string) (int, Answer, bool) {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec,noctx // G107: the test's own loopback server
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, a, resp.Close
}

// TestDrain: once told to stop, the server fails /health at once, tells
// keep-alive clients to reconnect, keeps answering during the drain delay,
// then stops cleanly.
func TestDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	s := New(Config{Version: "1.2.3", Pod: "api-0", DrainDelay: time.Hour, ShutdownTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	code, a, _ := get(t, url+"/health")
	if code != http.StatusOK || a.Version != "1.2.3" || a.Pod != "api-0" {
		t.Fatalf("before stop: %d %+v", code, a)
	}
	cancel()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond) // Serve sets the flag as soon as it sees ctx done
	}
	code, _, closing := get(t, url+"/health")
	if code != http.StatusServiceUnavailable || !closing {
		t.Fatalf("draining /health: %d, Connection: close %v; want 503 and close", code, closing)
	}
	if code, a, _ := get(t, url+"/v1/query"); code != http.StatusOK || a.Path != "/v1/query" {
		t.Fatalf("draining request: %d %+v; want it answered", code, a)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v during the drain delay", err)
	default:
	}
}

// TestRegressFailsUnderTraffic: a regressing version passes /health (and
// so its preview checks) until it has answered production requests.
func TestRegressFailsUnderTraffic(t *testing.T) {
	s := New(Config{Version: "1.0-regress", RegressAfterRequests: 3})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for range 5 {
		if code, _, _ := get(t, srv.URL+"/health"); code != http.StatusOK {
			t.Fatalf("/health %d before any traffic; want 200", code)
		}
	}
	for range 4 {
		get(t, srv.URL+"/v1/ask")
	}
	code, a, _ := get(t, srv.URL+"/health")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/health %d after 3 requests; want 503", code)
	}
	// It says which requests broke it, and who sent them.
	if a.Reason != "regressed after 3 requests: 3× GET /v1/ask from 127.0.0.1" {
		t.Fatalf("reason %q", a.Reason)
	}
	if code, _, _ := get(t, srv.URL+"/ready"); code != http.StatusOK {
		t.Fatalf("/ready %d after the regression; want 200 (readiness does not follow it)", code)
	}
	if New(Config{Version: "1.0-broken"}).healthy() {
		t.Fatal("a broken version is healthy")
	}
	broken := httptest.NewServer(New(Config{Version: "1.0-broken"}).Handler())
	defer broken.Close()
	if code, _, _ := get(t, broken.URL+"/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready of a broken version %d; want 503", code)
	}
}

// TestNoDrainDropsConnectionsAtOnce: without a drain, the stop signal ends
// the server and a request then finds nothing listening.
func TestNoDrainDropsConnectionsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s := New(Config{Version: "1.2.3", NoDrain: true, DrainDelay: time.Hour, ShutdownTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	if code, _, _ := get(t, "http://"+addr+"/v1/ask"); code != http.StatusOK {
		t.Fatalf("before stop: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		_ = conn.Close()
		t.Fatal("still accepting connections after a stop without drain")
	}
}
