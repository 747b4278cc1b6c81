package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"golang.org/x/term"

	"github.com/agentic-rag/ragdeploy/internal/release"
)

// terminalWidth is the width of the terminal w writes to; ok is false when
// w is not one, or output must stay plain lines (CI set, TERM dumb).
func terminalWidth(w io.Writer) (width int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile || os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width < 20 {
		width = 80
	}
	return width, true
}

// screen redraws a block of text in place on a terminal: each show
// replaces what the previous show printed. Lines are cut to the width so
// that none wraps (a wrapped line would throw the count off).
type screen struct {
	w     io.Writer
	width int
	// lines is how many lines the last show printed.
	lines int
}

func (s *screen) show(text string) {
	var b strings.Builder
	if s.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", s.lines) // up to the block's first line, clear to the end
	}
	rows := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for _, row := range rows {
		if r := []rune(row); len(r) >= s.width {
			row = string(r[:s.width-2]) + "…"
		}
		b.WriteString(row + "\n")
	}
	s.lines = len(rows)
	_, _ = io.WriteString(s.w, b.String())
}

// liveProgress is the wait for readiness on a terminal: one block redrawn
// in place with the elapsed time and the objects not ready yet, ending in
// one line.
type liveProgress struct{ screen }

func (p *liveProgress) Look(elapsed time.Duration, states []release.ObjectState) {
	var waiting []release.ObjectState
	for _, st := range states {
		if st.Status != status.CurrentStatus {
			waiting = append(waiting, st)
		}
	}
	if len(waiting) == 0 {
		p.show(fmt.Sprintf("  all %d objects ready after %.1fs\n", len(states), elapsed.Seconds()))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  [%6.1fs] %d of %d objects ready; waiting for:\n", elapsed.Seconds(), len(states)-len(waiting), len(states))
	for _, st := range waiting {
		fmt.Fprintf(&b, "    %-45s %-10s %s\n", st.Ref.Kind+" "+st.Ref.Name, st.Status, st.Message)
	}
	p.show(b.String())
}

// progressView is how a command shows a wait on w: redrawn in place on a
// terminal, a line per change otherwise.
func progressView(w io.Writer) release.WaitView {
	if width, ok := terminalWidth(w); ok {
		return &liveProgress{screen{w: w, width: width}}
	}
	return release.Lines(w)
}
