package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// workflowsDir holds the GitHub Actions workflows under test.
var workflowsDir = filepath.Join("..", "..", ".github", "workflows")

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	Name        string            `json:"name"`
	Permissions any               `json:"permissions"`
	Concurrency *concurrency      `json:"concurrency"`
	Jobs        map[string]*job   `json:"jobs"`
	Env         map[string]string `json:"env"`
}

type job struct {
	Name        string            `json:"name"`
	Needs       stringList        `json:"needs"`
	Uses        string            `json:"uses"`
	With        map[string]any    `json:"with"`
	Secrets     any               `json:"secrets"`
	Environment any               `json:"environment"`
	Concurrency *concurrency      `json:"concurrency"`
	Permissions any               `json:"permissions"`
	If          string            `json:"if"`
	Env         map[string]string `json:"env"`
	Steps       []step            `json:"steps"`
}

type concurrency struct {
	Group            string `json:"group"`
	CancelInProgress any    `json:"cancel-in-progress"`
}

type step struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	Run  string            `json:"run"`
	If   string            `json:"if"`
	Env  map[string]string `json:"env"`
	With map[string]any    `json:"with"`
}

// stringList is a YAML string or list of strings (needs: a or needs: [a, b]).
type stringList []string

func (s *stringList) UnmarshalJSON(data []byte) error {
	var one string
	if err := yaml.Unmarshal(data, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := yaml.Unmarshal(data, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func loadWorkflow(t *testing.T, name string) *workflow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(workflowsDir, name)) //nolint:gosec // G304: test fixture path
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &w
}

func (j *job) environmentName() string {
	switch e := j.Environment.(type) {
	case string:
		return e
	case map[string]any:
		return fmt.Sprint(e["name"])
	}
	return ""
}
