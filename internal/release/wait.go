package release

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// objectStatus is kstatus's verdict, except for BlueGreenDeployments, whose
// readiness is the rollout's (bluegreen.StateOf): kstatus alone calls one
// ready before the controller has brought up a color. A rollout waiting for
// promotion is ready: the release is in place, the promotion is a decision.
func objectStatus(u *unstructured.Unstructured) (status.Status, string) {
	if u.GroupVersionKind().Group == v1alpha1.GroupVersion.Group && u.GetKind() == "BlueGreenDeployment" {
		var b v1alpha1.BlueGreenDeployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
			return status.UnknownStatus, err.Error()
		}
		current := bluegreen.TemplateRevision(&b.Spec.Template)
		switch bluegreen.StateOf(&b) {
		case bluegreen.StateDone:
			return status.CurrentStatus, "Healthy: revision " + current + " serves"
		case bluegreen.StateFailed:
			return status.FailedStatus, string(b.Status.Phase) + ": " + b.Status.Message
		case bluegreen.StateWaitingForPromotion:
			return status.CurrentStatus, "Paused: revision " + current + " is ready for `ragdeploy rollout promote`"
		}
		if b.Status.ObservedGeneration != b.Generation || b.Status.CurrentRevision != current {
			return status.InProgressStatus, "waiting for the ragdeploy controller"
		}
		return status.InProgressStatus, string(b.Status.Phase) + ": " + b.Status.Message
	}
	res, err := status.Compute(u)
	if err != nil {
		return status.UnknownStatus, err.Error()
	}
	return res.Status, res.Message
}

// Wait polls the objects until every one is Current, one has Failed, or the
// context ends, printing each status change to progress.
func Wait(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, progress io.Writer) error {
	start := time.Now()
	last := map[objects.Ref]string{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		live := objects.NewLive(c)
		pending := 0
		var failed []string
		for _, o := range objs {
			ref := objects.RefOf(o)
			cur, err := live.Get(ctx, ref)
			if err != nil {
				return err
			}
			st, msg := status.NotFoundStatus, "not created yet"
			if cur != nil {
				st, msg = objectStatus(cur)
			}
			line := fmt.Sprintf("%-10s %s", st, msg)
			if last[ref] != line {
				last[ref] = line
				fmt.Fprintf(progress, "  [%6.1fs] %-45s %s\n", time.Since(start).Seconds(), ref.Kind+" "+ref.Name, line)
			}
			switch st {
			case status.CurrentStatus:
			case status.FailedStatus:
				failed = append(failed, ref.String()+": "+msg)
			default:
				pending++
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("not ready: %v", failed)
		}
		if pending == 0 {
			fmt.Fprintf(progress, "  all %d objects ready after %.1fs\n", len(objs), time.Since(start).Seconds())
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d objects not ready: %w", pending, len(objs), ctx.Err())
		case <-tick.C:
		}
	}
}
