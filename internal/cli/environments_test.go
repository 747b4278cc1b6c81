package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEnvironmentsAreFoundAndNamed(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// code and want: the exit code and part of the output.
		code int
		want string
		// chdir runs the command from a directory outside the repository.
		chdir bool
	}{
		{name: "found from a subdirectory", args: []string{"validate", "--env", "development"}, want: "environments/development.yaml: valid"},
		{name: "unknown name", args: []string{"validate", "--env", "prod"}, code: 1, want: `no environment named "prod" in ../../environments/ (known: development, production, staging); did you mean production?`},
		{name: "typo", args: []string{"validate", "--env", "stagign"}, code: 1, want: "did you mean staging?"},
		{name: "no suggestion", args: []string{"validate", "--env", "qa"}, code: 1, want: "(known: development, production, staging)\n"},
		{name: "outside the repository", args: []string{"validate", "--env", "staging"}, chdir: true, code: 1, want: "no environments/ directory in"},
		{name: "list", args: []string{"env", "list"}, want: "staging      agentic-rag-staging  agentic-rag  staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.chdir {
				t.Chdir(t.TempDir())
			}
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d; want %d and %q\nstdout: %s\nstderr: %s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

func TestEnvListJSON(t *testing.T) {
	code, stdout, stderr := run(t, "env", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var entries []envEntry
	if err := json.Unmarshal([]byte(stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[2].Name != "staging" || entries[2].Namespace != "agentic-rag-staging" || entries[2].Policy != "staging" {
		t.Fatalf("entries %+v; want development, production, staging with their targets", entries)
	}
	if !strings.HasSuffix(entries[0].Secrets, ", generated when missing") || strings.Contains(entries[2].Secrets, "generated") {
		t.Fatalf("secrets of development %q, staging %q; want only development's generated when missing", entries[0].Secrets, entries[2].Secrets)
	}
	code, stdout, _ = run(t, "env", "list", "-o", "json", "--environments-dir", t.TempDir())
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("empty directory: exit %d, %q; want []", code, stdout)
	}
}

// TestOutputFormats: -o json prints one JSON document on stdout, with
// empty lists as [], for env diff and secrets list (no cluster needed).
func TestOutputFormats(t *testing.T) {
	code, stdout, stderr := run(t, "env", "diff", "staging", "production", "-o", "json")
	var diff struct {
		Left, Right string
		Differences []struct{ Path, Left, Right string }
	}
	if err := json.Unmarshal([]byte(stdout), &diff); code != 0 || err != nil || len(diff.Differences) == 0 || !strings.HasSuffix(diff.Left, "staging.yaml") {
		t.Fatalf("env diff -o json: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	code, stdout, stderr = run(t, "secrets", "list", "--env", "development", "-o", "json")
	var secrets struct {
		File    string
		Secrets []struct{ Secret, Key, From, UsedBy, Fingerprint string }
	}
	if err := json.Unmarshal([]byte(stdout), &secrets); code != 0 || err != nil || secrets.File != "" || len(secrets.Secrets) != 3 {
		t.Fatalf("secrets list -o json without a file: exit %d, %v: %s%s; want the 3 keys the chart reads", code, err, stdout, stderr)
	}
	for _, k := range secrets.Secrets {
		if k.From != "existing Secret or generated" || k.UsedBy != "StatefulSet "+k.Secret || k.Fingerprint != "" {
			t.Errorf("secrets list -o json: %+v; want it existing or generated, used by its StatefulSet, no fingerprint", k)
		}
	}
	if code, _, stderr := run(t, "env", "diff", "staging", "production", "-o", "xml"); code != 1 || !strings.Contains(stderr, "not one of text, json, yaml") {
		t.Fatalf("-o xml: exit %d, %q", code, stderr)
	}
}
