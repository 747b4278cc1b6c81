package release

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// objectStatus is kstatus's verdict, for every kind: a rollout says its
// own by the Ready, Reconciling and Stalled conditions (a rollout paused for
// promotion is Current: the release is in place, promoting is a decision).
func objectStatus(u *unstructured.Unstructured) (status.Status, string) {
	res, err := status.Compute(u)
	if err != nil {
		return status.UnknownStatus, err.Error()
	}
	return res.Status, res.Message
}

// ObjectState is one object's state at one look of Wait.
type ObjectState struct {
	Ref     objects.Ref
	Status  status.Status
	Message string
}

// WaitView shows Wait's progress: Look gets every object's state, in the
// objects' order, after each look (the last one when all are Current or
// one has Failed).
type WaitView interface {
	Look(elapsed time.Duration, states []ObjectState)
}

// Lines is the plain view (a log, for pipes and CI): how many objects are
// ready at the first look, then a line per change of an object's state
// (objects ready from the start are not listed), and one when all are.
func Lines(w io.Writer) WaitView { return &lines{w: w} }

type lines struct {
	w    io.Writer
	last map[objects.Ref]string
}

func (l *lines) Look(elapsed time.Duration, states []ObjectState) {
	first := l.last == nil
	if first {
		l.last = map[objects.Ref]string{}
	}
	ready := 0
	for _, st := range states {
		if st.Status == status.CurrentStatus {
			ready++
		}
	}
	if first && ready < len(states) {
		fmt.Fprintf(l.w, "  [%6.1fs] %d of %d objects ready\n", elapsed.Seconds(), ready, len(states))
	}
	for _, st := range states {
		line := fmt.Sprintf("%-10s %s", st.Status, st.Message)
		if l.last[st.Ref] != line {
			l.last[st.Ref] = line
			if !first || st.Status != status.CurrentStatus {
				fmt.Fprintf(l.w, "  [%6.1fs] %-45s %s\n", elapsed.Seconds(), st.Ref.Kind+" "+st.Ref.Name, line)
			}
		}
	}
	if ready == len(states) {
		fmt.Fprintf(l.w, "  all %d objects ready after %.1fs\n", len(states), elapsed.Seconds())
	}
}

// Wait polls the objects until every one is Current, one has Failed, or the
// context ends, showing each look in view.
func Wait(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, view WaitView) error {
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		live := objects.NewLive(c)
		pending := 0
		var failed []string
		states := make([]ObjectState, 0, len(objs))
		for _, o := range objs {
			ref := objects.RefOf(o)
			cur, err := live.Get(ctx, ref)
			if err != nil {
				return err
			}
			st := ObjectState{Ref: ref, Status: status.NotFoundStatus, Message: "not created yet"}
			if cur != nil {
				st.Status, st.Message = objectStatus(cur)
			}
			states = append(states, st)
			switch st.Status {
			case status.CurrentStatus:
			case status.FailedStatus:
				failed = append(failed, ref.String()+": "+st.Message)
			default:
				pending++
			}
		}
		view.Look(time.Since(start), states)
		if len(failed) > 0 {
			return fmt.Errorf("not ready: %v", failed)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d objects not ready: %w", pending, len(objs), ctx.Err())
		case <-tick.C:
		}
	}
}
