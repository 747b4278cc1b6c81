package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/agentic-rag/ragdeploy/internal/objects"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// TestScreenRedrawsInPlace: each show moves up over the previous block and
// clears it; rows wider than the terminal are cut, so none wraps.
func TestScreenRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	s := &screen{w: &out, width: 20}
	s.show("one\ntwo\n")
	if out.String() != "one\ntwo\n" {
		t.Fatalf("first show: %q", out.String())
	}
	out.Reset()
	s.show("a row far wider than twenty columns\n")
	if want := "\x1b[2A\x1b[J" + "a row far wider th…\n"; out.String() != want {
		t.Fatalf("second show: %q; want %q", out.String(), want)
	}
	out.Reset()
	s.show("x\n")
	if !strings.HasPrefix(out.String(), "\x1b[1A\x1b[J") {
		t.Fatalf("third show moves up %q; want one line", out.String())
	}
}

// TestLiveProgressShowsWhatIsNotReady: the block names the objects still
// waiting with the elapsed time, and collapses to one line when all are.
func TestLiveProgressShowsWhatIsNotReady(t *testing.T) {
	var out bytes.Buffer
	p := &liveProgress{screen{w: &out, width: 200}}
	api := objects.Ref{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespace: "ns", Name: "api"}
	db := objects.Ref{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, Namespace: "ns", Name: "db"}
	p.Look(1500*time.Millisecond, []release.ObjectState{
		{Ref: api, Status: status.InProgressStatus, Message: "1 of 2 updated"},
		{Ref: db, Status: status.CurrentStatus, Message: "ready"},
	})
	if got := out.String(); !strings.Contains(got, "[   1.5s] 1 of 2 objects ready; waiting for:") || !strings.Contains(got, "Deployment api") || strings.Contains(got, "StatefulSet db") {
		t.Fatalf("progress while waiting:\n%s", got)
	}
	out.Reset()
	p.Look(3*time.Second, []release.ObjectState{{Ref: api, Status: status.CurrentStatus}, {Ref: db, Status: status.CurrentStatus}})
	if want := "\x1b[2A\x1b[J  all 2 objects ready after 3.0s\n"; out.String() != want {
		t.Fatalf("progress when ready: %q; want %q", out.String(), want)
	}
}

// TestProgressIsLiveOnlyOnATerminal: a terminal gets the live view; a pipe,
// a buffer, or a terminal with CI set get plain lines.
func TestProgressIsLiveOnlyOnATerminal(t *testing.T) {
	pty := openPTY(t)
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm")
	if _, live := progressView(pty).(*liveProgress); !live {
		t.Error("a terminal does not get the live view")
	}
	if _, live := progressView(&bytes.Buffer{}).(*liveProgress); live {
		t.Error("a buffer gets the live view")
	}
	t.Setenv("CI", "true")
	if _, live := progressView(pty).(*liveProgress); live {
		t.Error("a terminal in CI gets the live view")
	}
}

// openPTY opens a pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	_, pts := openPTYPair(t)
	return pts
}

// openPTYPair opens a pseudo-terminal: what is written to term is read
// from pty.
func openPTYPair(t *testing.T) (pty, term *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pts.Close() })
	return ptmx, pts
}
