package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

func TestWorkflowsPassActionlint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(workflowsDir, "*.yml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("workflows %v (err %v); want ci.yml, cd.yml, deploy.yml", files, err)
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

var pinned = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// TestThirdPartyActionsArePinned: every action not in this repository is
// referenced by a full commit SHA.
func TestThirdPartyActionsArePinned(t *testing.T) {
	for _, name := range []string{"ci.yml", "cd.yml", "deploy.yml"} {
		w := loadWorkflow(t, name)
		for id, j := range w.Jobs {
			refs := []string{j.Uses}
			for _, s := range j.Steps {
				refs = append(refs, s.Uses)
			}
			for _, ref := range refs {
				if ref == "" || strings.HasPrefix(ref, "./") {
					continue
				}
				if !pinned.MatchString(ref) {
					t.Errorf("%s job %s: %s is not pinned by commit SHA", name, id, ref)
				}
			}
		}
	}
}

// writePermissions lists the permissions a job (or workflow) grants for write.
func writePermissions(p any) []string {
	switch v := p.(type) {
	case string:
		if v == "write-all" {
			return []string{"write-all"}
		}
	case map[string]any:
		var out []string
		for k, level := range v {
			if level == "write" {
				out = append(out, k)
			}
		}
		return out
	}
	return nil
}

func TestPermissionsAreMinimal(t *testing.T) {
	ci := loadWorkflow(t, "ci.yml")
	if got := writePermissions(ci.Permissions); len(got) != 0 || ci.Permissions == nil {
		t.Errorf("ci.yml permissions %v; want contents: read only", ci.Permissions)
	}
	cd := loadWorkflow(t, "cd.yml")
	if m, ok := cd.Permissions.(map[string]any); !ok || len(m) != 0 {
		t.Errorf("cd.yml top-level permissions %v; want {} (each job asks for its own)", cd.Permissions)
	}
	allowed := map[string]bool{"packages": true, "id-token": true, "attestations": true}
	for id, j := range cd.Jobs {
		if j.Permissions == nil {
			t.Errorf("cd.yml job %s has no permissions block", id)
		}
		for _, p := range writePermissions(j.Permissions) {
			if id != "build" || !allowed[p] {
				t.Errorf("cd.yml job %s may write %s", id, p)
			}
		}
	}
	deploy := loadWorkflow(t, "deploy.yml")
	if got := writePermissions(deploy.Permissions); len(got) != 0 {
		t.Errorf("deploy.yml may write %v", got)
	}
}

func TestProductionWaitsForStagingAndApproval(t *testing.T) {
	cd := loadWorkflow(t, "cd.yml")
	staging, prod := cd.Jobs["deploy-staging"], cd.Jobs["deploy-production"]
	if staging == nil || prod == nil {
		t.Fatal("cd.yml lacks deploy-staging or deploy-production")
	}
	for _, j := range []*job{staging, prod} {
		if j.Uses != "./.github/workflows/deploy.yml" {
			t.Errorf("a deploy job uses %q; want the reusable ./.github/workflows/deploy.yml", j.Uses)
		}
	}
	if staging.With["environment"] != "staging" || prod.With["environment"] != "production" || prod.With["promote"] != true {
		t.Errorf("inputs: staging %v, production %v", staging.With, prod.With)
	}
	if !contains(prod.Needs, "deploy-staging") {
		t.Errorf("deploy-production needs %v; want deploy-staging", prod.Needs)
	}
	if !contains(staging.Needs, "build") {
		t.Errorf("deploy-staging needs %v; want build", staging.Needs)
	}

	deploy := loadWorkflow(t, "deploy.yml")
	j := deploy.Jobs["deploy"]
	if j == nil {
		t.Fatal("deploy.yml has no deploy job")
	}
	// The environment is the input: production runs in the GitHub
	// environment whose required reviewers are the approval.
	if env := j.environmentName(); env != "${{ inputs.environment }}" {
		t.Errorf("deploy job environment %q; want ${{ inputs.environment }}", env)
	}
	if j.Concurrency == nil || !strings.Contains(j.Concurrency.Group, "inputs.environment") || j.Concurrency.CancelInProgress != false {
		t.Errorf("deploy concurrency %+v; want a group per environment that never cancels a deploy in flight", j.Concurrency)
	}
	// Staging's tests run in the staging job, after its deploy, so
	// production (which needs that job) waits for them.
	order := map[string]int{}
	for i, s := range j.Steps {
		for _, script := range []string{"controller.sh", "deploy.sh", "verify.sh", "on-failure.sh"} {
			if strings.Contains(s.Run, "hack/pipeline/"+script) {
				order[script] = i
				if script == "on-failure.sh" && s.If != "failure()" {
					t.Errorf("on-failure step runs if %q; want failure()", s.If)
				}
			}
		}
	}
	if len(order) != 4 || order["controller.sh"] > order["deploy.sh"] || order["deploy.sh"] > order["verify.sh"] || order["verify.sh"] > order["on-failure.sh"] {
		t.Errorf("deploy steps in order %v; want controller.sh, deploy.sh, verify.sh, on-failure.sh", order)
	}
}

func TestCIRunsEveryGate(t *testing.T) {
	ci := loadWorkflow(t, "ci.yml")
	if ci.Concurrency == nil || ci.Concurrency.CancelInProgress != "${{ github.event_name == 'pull_request' }}" {
		t.Errorf("ci concurrency %+v; want superseded pull request runs canceled", ci.Concurrency)
	}
	var all strings.Builder
	for _, j := range ci.Jobs {
		for _, s := range j.Steps {
			all.WriteString(s.Run + " " + s.Uses + " ")
			for k, v := range s.With {
				all.WriteString(k + "=" + toString(v) + " ")
			}
		}
	}
	for _, want := range []string{
		"hack/pipeline/lint.sh", "hack/pipeline/test.sh", "hack/pipeline/coverage-gate.sh", "hack/pipeline/charts.sh",
		"hack/pipeline/security.sh", "scan-type=config", "scan-type=fs", "make sbom", "hashFiles('hack/cluster/go.mod', 'hack/cluster/go.sum'",
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("ci.yml does not run %s", want)
		}
	}
}

// TestGitLabRunsTheSameSteps: .gitlab-ci.yml calls the same scripts, and its
// production job is manual (the approval), after staging, serialized.
func TestGitLabRunsTheSameSteps(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"lint.sh", "test.sh", "coverage-gate.sh", "charts.sh", "security.sh", "image.sh", "publish.sh", "controller.sh", "deploy.sh", "verify.sh", "on-failure.sh"} {
		if !strings.Contains(string(data), "hack/pipeline/"+script) {
			t.Errorf(".gitlab-ci.yml does not call hack/pipeline/%s", script)
		}
	}
	prod, _ := doc["deploy-production"].(map[string]any)
	if prod == nil {
		t.Fatal(".gitlab-ci.yml has no deploy-production job")
	}
	env, _ := prod["environment"].(map[string]any)
	if prod["when"] != "manual" || env["name"] != "production" || prod["resource_group"] != "production" {
		t.Errorf("deploy-production: when %v, environment %v, resource_group %v; want manual, production, production", prod["when"], env, prod["resource_group"])
	}
	if needs, _ := prod["needs"].([]any); len(needs) == 0 || !strings.Contains(toString(needs), "deploy-staging") {
		t.Errorf("deploy-production needs %v; want deploy-staging", prod["needs"])
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func toString(v any) string {
	data, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(data))
}
