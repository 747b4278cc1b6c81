package release

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// Diff is what Upgrade would change, computed by server-side dry-run
// against the live cluster; nothing is changed.
func (m *Manager) Diff(ctx context.Context, p *Plan) (*drift.Report, []objects.Ref, error) {
	changes, removed, _, err := m.diff(ctx, p)
	return changes, removed, err
}

// diff is Diff, with the deployed revision it compared against (nil: none).
// The plan's objects are compared as an upgrade applies them: with the
// fields liveFields keeps.
func (m *Manager) diff(ctx context.Context, p *Plan) (*drift.Report, []objects.Ref, *Revision, error) {
	t, c := m.Target, m.client
	applied, err := withLive(ctx, objects.NewLive(c), p.chartObjects())
	if err != nil {
		return nil, nil, nil, err
	}
	desired := p.desired(applied)
	prev, err := m.Deployed()
	if err != nil {
		return nil, nil, nil, err
	}
	// A new manifest: every object goes through the dry run, new ones too
	// (once their namespace exists), so a field the new revision drops shows
	// as a change and whatever the API server would refuse is found before
	// anything is written.
	var ns corev1.Namespace
	nsErr := c.Get(ctx, client.ObjectKey{Name: t.Namespace}, &ns)
	if nsErr != nil && !apierrors.IsNotFound(nsErr) {
		return nil, nil, nil, nsErr
	}
	opts := checkOptions(p.Env.Drift.Ignore, desired)
	opts.LastApplied, opts.DryRunMissing = false, nsErr == nil
	report, err := drift.Check(ctx, c, desired, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	var removed []objects.Ref
	if prev != nil {
		old, err := prev.Objects()
		if err != nil {
			return nil, nil, nil, err
		}
		keep := map[objects.Ref]bool{}
		for _, d := range desired {
			keep[objects.RefOf(d)] = true
		}
		for _, o := range old {
			if ref := objects.RefOf(o.Unstructured); !keep[ref] {
				removed = append(removed, ref)
			}
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i].String() < removed[j].String() })
	}
	return report, removed, prev, nil
}
