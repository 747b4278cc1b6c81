package release_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/release"
)

// TestRollbackPlanTakesTheRevisionsValues: without a number it picks the
// revision deployed before the current one, with that revision's values
// and this binary's chart (subcharts included: the databases stay); a
// revision deployed with another chart version is refused.
func TestRollbackPlanTakesTheRevisionsValues(t *testing.T) {
	p := newPlatform(t, "development")
	other := p.plan(t)
	other.Chart.Metadata.Version = "0.0.1"
	if _, err := p.release.Upgrade(t.Context(), other, release.Options{Timeout: 3 * time.Minute, Progress: &p.out}); err != nil {
		t.Fatalf("%v\n%s", err, p.out.String())
	}
	p.deploy(t, "api.config.LOG_LEVEL=trace")
	p.deploy(t)

	back, to, err := p.release.RollbackPlan(t.Context(), p.plan(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	config, _ := back.Values["api"].(map[string]any)["config"].(map[string]any)
	if to != 2 || config["LOG_LEVEL"] != "trace" {
		t.Fatalf("rollback plan: revision %d, api.config %v; want revision 2 with LOG_LEVEL trace", to, config)
	}
	statefulSets := 0
	for _, o := range back.Objects {
		if o.GetKind() == "StatefulSet" {
			statefulSets++
		}
	}
	if statefulSets != 3 {
		t.Fatalf("rollback plan renders %d StatefulSets; want the 3 databases", statefulSets)
	}
	if _, _, err := p.release.RollbackPlan(t.Context(), p.plan(t), 1); err == nil || !strings.Contains(err.Error(), "deployed with chart agentic-rag 0.0.1") {
		t.Fatalf("rollback to a revision of another chart version: %v", err)
	}
	if _, _, err := p.release.RollbackPlan(t.Context(), p.plan(t), 3); err == nil || !strings.Contains(err.Error(), "revision 3 is the one deployed") {
		t.Fatalf("rollback to the deployed revision: %v", err)
	}
}
