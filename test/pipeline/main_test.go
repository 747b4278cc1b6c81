package pipeline

import (
	"os"
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// TestMain lets this test binary be the sandbox of the rehearsal's real
// node (the local cluster re-executes its own binary for it).
func TestMain(m *testing.M) {
	localcluster.MaybeRunNodeSandbox()
	release.UseHelmFieldManager()
	os.Exit(m.Run())
}
