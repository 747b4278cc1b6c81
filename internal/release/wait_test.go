package release_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// TestLinesListChangesOnly: the plain view says how many objects are ready
// at the first look and lists only the others, then only what changes.
func TestLinesListChangesOnly(t *testing.T) {
	ref := func(kind, name string) objects.Ref {
		return objects.Ref{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, Namespace: "ns", Name: name}
	}
	api, db, cm := ref("Deployment", "api"), ref("StatefulSet", "db"), ref("ConfigMap", "cfg")
	var out bytes.Buffer
	v := release.Lines(&out)
	v.Look(0, []release.ObjectState{
		{Ref: cm, Status: status.CurrentStatus, Message: "Resource is always ready"},
		{Ref: db, Status: status.CurrentStatus, Message: "ready"},
		{Ref: api, Status: status.InProgressStatus, Message: "0 of 1 updated"},
	})
	want := "  [   0.0s] 2 of 3 objects ready\n  [   0.0s] Deployment api                                InProgress 0 of 1 updated\n"
	if out.String() != want {
		t.Fatalf("first look:\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	v.Look(1200*time.Millisecond, []release.ObjectState{
		{Ref: cm, Status: status.CurrentStatus, Message: "Resource is always ready"},
		{Ref: db, Status: status.CurrentStatus, Message: "ready"},
		{Ref: api, Status: status.CurrentStatus, Message: "available"},
	})
	want = "  [   1.2s] Deployment api                                Current    available\n  all 3 objects ready after 1.2s\n"
	if out.String() != want {
		t.Fatalf("second look:\n%q\nwant\n%q", out.String(), want)
	}
}
