package pipeline

import (
	"os"
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// TestMain lets this test binary be the sandbox of the rehearsal's real
// node (the local cluster re-executes its own binary for it).
func TestMain(m *testing.M) {
	localcluster.MaybeRunNodeSandbox()
	os.Exit(m.Run())
}
