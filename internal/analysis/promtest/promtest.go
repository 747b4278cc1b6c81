// Package promtest runs a real Prometheus server for tests: the Debian
// `prometheus` binary on a loopback port, scraping targets the test serves.
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running Prometheus.
type Server struct {
	// URL is its base URL, e.g. http://127.0.0.1:40123.
	URL string
}

// Start runs Prometheus scraping each target URL (http://host:port/path)
// every 200ms, and stops it when the test ends. It fails the test when the
// binary is missing: install the Debian package `prometheus` (make test does).
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	return StartWithRules(t, nil, targets...)
}

// StartWithRules is Start with these rule files loaded (rules evaluated at
// each group's interval, else every second).
func StartWithRules(t testing.TB, ruleFiles []string, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("promtest: prometheus not found (apt-get install prometheus; `make test` installs it): %v", err)
	}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  evaluation_interval: 1s\n")
	if len(ruleFiles) > 0 {
		cfg.WriteString("rule_files:\n")
		for _, f := range ruleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "- %q\n", abs)
		}
	}
	cfg.WriteString("scrape_configs:\n")
	for i, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "- job_name: target%d\n  metrics_path: %q\n  static_configs:\n  - targets: [%q]\n", i, u.Path, u.Host)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log")) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, //nolint:gosec // G204: runs a binary this program built or pinned, with arguments as a list (no shell)
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Logf("prometheus stopped: %v", <-exited)
		_ = logFile.Close()
	})
	s := &Server{URL: "http://" + addr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			exited <- err                                               // for the cleanup
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log")) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
			t.Fatalf("promtest: prometheus exited (%v):\n%s", err, log)
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log")) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
			t.Fatalf("promtest: prometheus not ready: %v\n%s", ctx.Err(), log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitForData waits until query returns a non-empty result, i.e. the
// targets have been scraped.
func (s *Server) WaitForData(t testing.TB, query string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"result":[]`) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("promtest: no data for %q after 30s", query)
}

// Value is the value of query's result when it is one sample (an instant
// vector of one element, or a scalar); ok is false for no result.
func (s *Server) Value(t testing.TB, query string) (v float64, ok bool) {
	t.Helper()
	resp, err := http.Get(s.URL + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("promtest: query %q: %s", query, r.Error)
	}
	var pair []any
	switch r.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(r.Data.Result, &pair); err != nil {
			t.Fatal(err)
		}
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			t.Fatal(err)
		}
		if len(vec) == 0 {
			return 0, false
		}
		if len(vec) > 1 {
			t.Fatalf("promtest: query %q: %d samples; want one", query, len(vec))
		}
		pair = vec[0].Value
	default:
		t.Fatalf("promtest: query %q: result type %s", query, r.Data.ResultType)
	}
	str, _ := pair[1].(string)
	v, err = strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("promtest: query %q: value %v: %v", query, pair[1], err)
	}
	return v, true
}
