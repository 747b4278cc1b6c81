package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// runner executes the deploy part of cd.yml the way GitHub Actions would:
// jobs in `needs` order, a job only when every job it needs succeeded, the
// reusable deploy.yml expanded with the caller's inputs, its `run:` steps
// executed with bash in the repository, `if: failure()` steps only after a
// failed step. Jobs in the production environment wait for approve, as
// GitHub waits for the environment's required reviewers. `uses:` steps
// (checkout, setup-go) are what the CI image provides and are skipped; jobs
// that do not call deploy.yml (build: image, signing, registry) are not
// rehearsed and count as succeeded.
type runner struct {
	t    *testing.T
	repo string
	// env is added to every step (KUBECONFIG, RAGDEPLOY, ...); envFor adds
	// per-environment variables (as GitHub environment variables would).
	env    []string
	envFor func(environment string) []string
	// secrets answer ${{ secrets.NAME }}; outputs answer
	// ${{ needs.JOB.outputs.NAME }} of the jobs not rehearsed, by "JOB.NAME".
	secrets, outputs map[string]string
	// approve is asked before a job in the production environment runs; it
	// returns false to reject.
	approve func(t *testing.T) bool
}

// jobRun is what happened to one job.
type jobRun struct {
	Job, Environment string
	Result           string // success, failure, skipped, not rehearsed
	Took             time.Duration
	Steps            []stepRun
	Log              string
}

type stepRun struct {
	Name, Result string
	Took         time.Duration
}

// run runs cd.yml with the workflow_dispatch input api-version.
func (r *runner) run(apiVersion string) map[string]*jobRun {
	r.t.Helper()
	cd := loadWorkflow(r.t, "cd.yml")
	deploy := loadWorkflow(r.t, "deploy.yml")
	runs := map[string]*jobRun{}
	for _, id := range order(r.t, cd) {
		j := cd.Jobs[id]
		run := &jobRun{Job: id}
		runs[id] = run
		for _, need := range j.Needs {
			if res := runs[need].Result; res != "success" && res != "not rehearsed" {
				run.Result = "skipped"
			}
		}
		if run.Result == "skipped" {
			continue
		}
		if j.Uses != "./.github/workflows/deploy.yml" {
			run.Result = "not rehearsed"
			continue
		}
		inputs := map[string]string{}
		for k, v := range j.With {
			inputs[k] = r.expand(fmt.Sprint(v), map[string]string{"api-version": apiVersion})
		}
		r.runDeploy(deploy.Jobs["deploy"], inputs, run)
	}
	return runs
}

// runDeploy runs deploy.yml's job with inputs.
func (r *runner) runDeploy(j *job, inputs map[string]string, run *jobRun) {
	run.Environment = r.expand(j.environmentName(), inputs)
	if run.Environment == "production" && !r.approve(r.t) {
		run.Result = "rejected"
		return
	}
	start := time.Now()
	jobEnv := append(append(os.Environ(), r.env...), r.envFor(run.Environment)...)
	for k, v := range j.Env {
		jobEnv = append(jobEnv, k+"="+r.expand(v, inputs))
	}
	var log bytes.Buffer
	failed := false
	for _, s := range j.Steps {
		name := s.Name
		if name == "" {
			name = s.Uses
		}
		switch {
		case s.Uses != "":
			run.Steps = append(run.Steps, stepRun{Name: name, Result: "provided by the CI image"})
			continue
		case s.If == "failure()" && !failed, s.If == "" && failed:
			run.Steps = append(run.Steps, stepRun{Name: name, Result: "skipped"})
			continue
		case s.If != "" && s.If != "failure()":
			r.t.Fatalf("deploy.yml step %q: the rehearsal does not evaluate if: %s", name, s.If)
		}
		env := append([]string{}, jobEnv...)
		for k, v := range s.Env {
			env = append(env, k+"="+r.expand(v, inputs))
		}
		cmd := exec.Command("bash", "-eo", "pipefail", "-c", s.Run) //nolint:gosec // G204: runs the binary or tool the test built or pinned, arguments as a list
		cmd.Dir, cmd.Env = r.repo, env
		fmt.Fprintf(&log, "### %s\n", name)
		cmd.Stdout, cmd.Stderr = &log, &log
		stepStart := time.Now()
		err := cmd.Run()
		res := "success"
		if err != nil {
			res, failed = "failure", true
			fmt.Fprintf(&log, "### %s: %v\n", name, err)
		}
		run.Steps = append(run.Steps, stepRun{Name: name, Result: res, Took: time.Since(stepStart)})
	}
	run.Took, run.Log = time.Since(start), log.String()
	run.Result = "success"
	if failed {
		run.Result = "failure"
	}
}

var (
	exprRe   = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)
	andOrRe  = regexp.MustCompile(`^inputs\.([\w-]+) && '([^']*)' \|\| '([^']*)'$`)
	inputRe  = regexp.MustCompile(`^inputs\.([\w-]+)$`)
	secretRe = regexp.MustCompile(`^secrets\.(\w+)$`)
	outputRe = regexp.MustCompile(`^needs\.([\w-]+)\.outputs\.([\w-]+)$`)
)

// expand resolves the expressions the deploy workflows use: inputs.NAME,
// secrets.NAME, needs.JOB.outputs.NAME and inputs.NAME && 'a' || 'b'. Any other expression fails
// the test, so the rehearsal never silently runs something else than CI.
func (r *runner) expand(s string, inputs map[string]string) string {
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRe.FindStringSubmatch(m)[1]
		if g := andOrRe.FindStringSubmatch(e); g != nil {
			if v := inputs[g[1]]; v != "" && v != "false" {
				return g[2]
			}
			return g[3]
		}
		if g := inputRe.FindStringSubmatch(e); g != nil {
			return inputs[g[1]]
		}
		if g := secretRe.FindStringSubmatch(e); g != nil {
			return r.secrets[g[1]]
		}
		if g := outputRe.FindStringSubmatch(e); g != nil {
			v, ok := r.outputs[g[1]+"."+g[2]]
			if !ok {
				r.t.Fatalf("no output %s of job %s in the rehearsal", g[2], g[1])
			}
			return v
		}
		r.t.Fatalf("the rehearsal cannot evaluate ${{ %s }}", e)
		return ""
	})
}

// order sorts a workflow's jobs so each comes after the jobs it needs.
func order(t *testing.T, w *workflow) []string {
	t.Helper()
	var ids []string
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []string
	done := map[string]bool{}
	for len(out) < len(ids) {
		progressed := false
		for _, id := range ids {
			if done[id] {
				continue
			}
			ready := true
			for _, n := range w.Jobs[id].Needs {
				ready = ready && done[n]
			}
			if ready {
				out, done[id], progressed = append(out, id), true, true
			}
		}
		if !progressed {
			t.Fatalf("cd.yml: jobs needs form a cycle or name a missing job")
		}
	}
	return out
}

// report formats job and step durations.
func report(runs map[string]*jobRun) string {
	var ids []string
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		r := runs[id]
		fmt.Fprintf(&b, "  %-18s %-12s %6.1fs %s\n", id, r.Result, r.Took.Seconds(), r.Environment)
		for _, s := range r.Steps {
			if s.Took > 0 {
				fmt.Fprintf(&b, "      %-40s %-8s %6.1fs\n", s.Name, s.Result, s.Took.Seconds())
			}
		}
	}
	return b.String()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
