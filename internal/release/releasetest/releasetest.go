// Package releasetest holds what tests of release users share.
package releasetest

import (
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/release"
)

// Manager connects to a release for a test, failing it when it cannot.
func Manager(t testing.TB, target release.Target) *release.Manager {
	t.Helper()
	m, err := release.NewManager(target)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
