package release

import (
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	ri "helm.sh/helm/v4/pkg/release"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"

	"github.com/agentic-rag/ragdeploy/internal/render"
)

// Deployed is the last revision of a release whose status is deployed (a
// failed upgrade after it does not count), with its manifest, chart and
// values; nil when the release has no deployed revision.
func (m *Manager) Deployed() (*Revision, error) {
	t := m.Target
	rel, err := m.helm.Releases.Deployed(t.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) || errors.Is(err, driver.ErrNoDeployedReleases) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("release %s: %w", t, err)
	}
	return revisionOf(rel)
}

// exists reports whether the release has any record (deployed or not).
func (m *Manager) exists() (bool, error) {
	_, err := m.helm.Releases.Last(m.Target.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Revision is one release record.
type Revision struct {
	Number      int
	Status      string
	Description string
	Manifest    string
	// Environment is the "environment" value it was deployed with.
	Environment string
	// Deployed is when it was deployed.
	Deployed time.Time
}

func revisionOf(rel ri.Releaser) (*Revision, error) {
	acc, err := ri.NewAccessor(rel)
	if err != nil {
		return nil, err
	}
	r := &Revision{Number: acc.Version(), Status: acc.Status(), Manifest: acc.Manifest()}
	if v1, ok := rel.(*rspb.Release); ok {
		if v1.Info != nil {
			r.Description, r.Deployed = v1.Info.Description, v1.Info.LastDeployed
		}
		r.Environment, _ = v1.Config["environment"].(string)
	}
	return r, nil
}

// Objects decodes the revision's manifest.
func (r *Revision) Objects() ([]render.Object, error) {
	return render.Decode("manifest", r.Manifest)
}

// History lists a release's revisions, oldest first.
func (m *Manager) History() ([]*Revision, error) {
	t := m.Target
	rels, err := action.NewHistory(m.helm).Run(t.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, &NotInstalledError{t}
	} else if err != nil {
		return nil, fmt.Errorf("history of %s: %w", t, err)
	}
	var out []*Revision
	for _, r := range rels {
		rev, err := revisionOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, nil
}

// Test runs the release's test hooks (`helm test`) and waits for them.
func (m *Manager) Test(timeout time.Duration) error {
	t := m.Target
	rt := action.NewReleaseTesting(m.helm)
	rt.Namespace, rt.Timeout = t.Namespace, timeout
	_, shutdown, err := rt.Run(t.Name)
	if serr := shutdown(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("test %s: %w", t, err)
	}
	return nil
}
