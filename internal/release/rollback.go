package release

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// RollbackPlan is p with the values that revision number of release t was
// deployed with (0: the newest revision before the deployed one that was
// itself deployed, then replaced), checked again under p's environment and
// policy. The revision's chart must be p's chart version; p's secrets stay,
// as no release stores them.
// Upgrade then applies it as a new revision, the way Helm's rollback does,
// through the same checks, color selector, undo and wait as any upgrade.
func (m *Manager) RollbackPlan(ctx context.Context, p *Plan, number int) (*Plan, int, error) {
	t := m.Target
	history, err := m.helm.Releases.History(t.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(history) == 0 {
		return nil, 0, &NotInstalledError{t}
	} else if err != nil {
		return nil, 0, fmt.Errorf("history of %s: %w", t, err)
	}
	var revisions []*rspb.Release
	var known []int
	var deployed *rspb.Release
	for _, r := range history {
		rel, ok := r.(*rspb.Release)
		if !ok {
			return nil, 0, fmt.Errorf("release %s: a record of an unknown kind (%T)", t, r)
		}
		revisions, known = append(revisions, rel), append(known, rel.Version)
		if statusOf(rel) == common.StatusDeployed {
			deployed = rel
		}
	}
	if deployed == nil {
		return nil, 0, fmt.Errorf("release %s has no deployed revision to roll back from (hint: ragdeploy history --env %s)", t, p.Env.Name)
	}
	var chosen *rspb.Release
	for _, rel := range revisions {
		switch {
		case number != 0 && rel.Version == number:
			chosen = rel
		case number == 0 && rel.Version < deployed.Version && statusOf(rel) == common.StatusSuperseded && (chosen == nil || rel.Version > chosen.Version):
			chosen = rel
		}
	}
	if number == 0 && chosen == nil {
		return nil, 0, fmt.Errorf("release %s has no earlier revision that was deployed (revisions: %v)", t, known)
	}
	switch {
	case chosen == nil:
		return nil, 0, fmt.Errorf("release %s has no revision %d (revisions: %v; hint: ragdeploy history --env %s)", t, number, known, p.Env.Name)
	case chosen.Version == deployed.Version:
		return nil, 0, fmt.Errorf("revision %d is the one deployed: nothing to roll back", number)
	case chosen.Chart == nil || chosen.Chart.Metadata == nil:
		return nil, 0, fmt.Errorf("release %s revision %d has no chart stored", t, chosen.Version)
	case chosen.Chart.Metadata.Version != p.Chart.Metadata.Version:
		// A stored chart has no subcharts (Helm keeps the parent only):
		// rendering it would drop the databases. This binary's chart is
		// the same chart when the versions agree.
		return nil, 0, fmt.Errorf("revision %d was deployed with chart %s %s and this ragdeploy ships %s: roll back with the ragdeploy that deployed it, or upgrade", chosen.Version, chosen.Chart.Metadata.Name, chosen.Chart.Metadata.Version, p.Chart.Metadata.Version)
	}
	values := chosen.Config
	if values == nil {
		values = map[string]any{}
	}
	objs, err := envconfig.Validate(ctx, p.Env, p.Chart, values)
	if err != nil {
		var verr *envconfig.ValidationError
		if errors.As(err, &verr) {
			return nil, 0, fmt.Errorf("revision %d no longer passes environment %s: %w", chosen.Version, p.Env.Name, err)
		}
		return nil, 0, err
	}
	return &Plan{Env: p.Env, Chart: p.Chart, Values: values, Objects: objs, Secrets: p.Secrets}, chosen.Version, nil
}

func statusOf(rel *rspb.Release) common.Status {
	if rel.Info == nil {
		return common.StatusUnknown
	}
	return rel.Info.Status
}
