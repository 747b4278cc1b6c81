// Command ragdeploy deploys the Agentic RAG platform to Kubernetes.
package main

import (
	"context"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentic-rag/ragdeploy/internal/cli"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

func main() {
	// A real node of the local cluster re-executes this binary as its sandbox.
	localcluster.MaybeRunNodeSandbox()
	// Libraries (the Helm SDK among them) log through the standard loggers;
	// the CLI reports through its own output only. The controller logs
	// through logr, which it sets up itself.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	log.SetOutput(io.Discard)
	release.UseHelmFieldManager()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
