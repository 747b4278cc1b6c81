// Command api is the Agentic RAG api stand-in image's entrypoint on real
// nodes of the local cluster (see internal/standin): it listens on :8000 and
// answers with its version (AGENTIC_RAG_VERSION, which the local registry
// sets from the image tag) and pod name; `api version` prints the version.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/standin"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "api: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	version := env("AGENTIC_RAG_VERSION", "unknown")
	if len(os.Args) > 1 && os.Args[1] == "version" {
		// What `kubectl exec POD -- /api version` shows.
		fmt.Println(version)
		return nil
	}
	pod, _ := os.Hostname()
	cfg := standin.Config{
		Version:              version,
		Pod:                  pod,
		RegressAfterRequests: count("STANDIN_REGRESS_AFTER_REQUESTS", 5),
		DrainDelay:           duration("STANDIN_DRAIN_DELAY", time.Second),
		ShutdownTimeout:      duration("STANDIN_SHUTDOWN_TIMEOUT", 20*time.Second),
		NoDrain:              os.Getenv("STANDIN_DRAIN") == "off",
	}
	if standin.BehaviorOf(version) == standin.Crash {
		time.Sleep(duration("STANDIN_CRASH_AFTER", time.Second)) // the crash is timed by design
		return fmt.Errorf("version %s crashes by design", version)
	}
	ln, err := net.Listen("tcp", ":"+env("PORT", "8000"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Printf("api stand-in %s (%s) on %s\n", version, standin.BehaviorOf(version), ln.Addr())
	err = standin.New(cfg).Serve(ctx, ln)
	fmt.Println("api stand-in stopped")
	return err
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func duration(name string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		return def
	}
	return d
}

func count(name string, def int64) int64 {
	n, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	if err != nil || n < 0 {
		return def
	}
	return n
}
