package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run executes the command line in-process and returns exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestUnknownSubcommandsFail(t *testing.T) {
	tests := []struct {
		args []string
		// suggest is the subcommand cobra should propose ("" for none).
		suggest string
	}{
		{args: []string{"rollout", "promte", "api"}, suggest: "promote"},
		{args: []string{"rollout", "lst"}, suggest: "list"},
		{args: []string{"local", "start"}},
		{args: []string{"env", "lsit"}, suggest: "list"},
		{args: []string{"secrets", "encypt"}, suggest: "encrypt"},
		{args: []string{"pipeline", "deploi"}, suggest: "deploy"},
		{args: []string{"rollouts"}, suggest: "rollout"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != 1 {
				t.Fatalf("exit %d; want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "unknown command \""+tt.args[len(tt.args)-1]) && !strings.Contains(stderr, "unknown command \""+tt.args[1]) && !strings.Contains(stderr, "unknown command \""+tt.args[0]) {
				t.Fatalf("stderr does not name the unknown command: %q", stderr)
			}
			if tt.suggest != "" && !strings.Contains(stderr, "Did you mean this?\n\t"+tt.suggest) {
				t.Fatalf("no suggestion of %q: %q", tt.suggest, stderr)
			}
			if strings.Contains(stdout, "Available Commands") {
				t.Fatalf("help printed instead of an error:\n%s", stdout)
			}
		})
	}
}

func TestGroupCommandWithoutArgsPrintsHelp(t *testing.T) {
	code, stdout, _ := run(t, "rollout")
	if code != 0 || !strings.Contains(stdout, "Available Commands") || !strings.Contains(stdout, "promote") {
		t.Fatalf("exit %d; want 0 and the rollout help:\n%s", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := run(t, "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, stdout)
	}
	if v.Version == "" || v.Go != runtime.Version() || v.Platform == "" {
		t.Fatalf("version %+v", v)
	}
	if code, stdout, _ := run(t, "--version"); code != 0 || !strings.HasPrefix(stdout, "ragdeploy ") {
		t.Fatalf("--version: exit %d, %q", code, stdout)
	}
	// -v is --verbose where it exists, never --version.
	if code, _, stderr := run(t, "-v"); code != 1 || !strings.Contains(stderr, "unknown shorthand flag: 'v'") {
		t.Fatalf("-v on the root: exit %d, %q; want an unknown flag", code, stderr)
	}
}

// A missing kubeconfig is explained in the product's words, with the way to
// get one for the local cluster; client-go's wording does not reach the user.
func TestKubeconfigErrorsSayWhatToDo(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "status", "api"}, "no kubeconfig: ~/.kube/config does not exist and $KUBECONFIG is unset"},
		{[]string{"rollout", "status", "api", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig /nonexistent/kubeconfig does not exist"},
		{[]string{"diff", "--env", "development"}, "no kubeconfig: ~/.kube/config does not exist"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "ragdeploy local kubeconfig") || strings.Contains(stderr, "KUBERNETES_MASTER") {
			t.Errorf("%v: exit %d, %q; want %q and the local cluster hint", tt.args, code, stderr, tt.want)
		}
	}
}

// Bad input is reported before any kubeconfig is read: commands that work
// on a release connect after Validate (Connect), so a missing kubeconfig
// does not hide the flag that is wrong.
func TestBadInputComesBeforeTheCluster(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--env", "staging", "--since", "abc"}, `--since "abc": want a positive duration`},
		{[]string{"report", "--env", "staging", "--since", "0d"}, `--since "0d": want a positive duration`},
		{[]string{"status", "--env", "staging", "-o", "bogus"}, `--output: "bogus" is not one of`},
		{[]string{"history", "--env", "staging", "-o", "bogus"}, `--output: "bogus" is not one of`},
		{[]string{"install", "--env", "staging", "--timeout", "-1s"}, "--timeout must be positive"},
		{[]string{"drift", "--env", "staging", "-o", "bogus"}, `--output: "bogus" is not one of`},
		{[]string{"pipeline", "abort", "--env", "staging"}, "--reason is required"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code == 0 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "kubeconfig") {
			t.Errorf("%v: exit %d, %q; want %q and no word of a kubeconfig", tt.args, code, stderr, tt.want)
		}
	}
}

// Every command that runs something is an options type run through
// Complete, Validate and Run (runs); the commands that only group others
// have no options.
func TestEveryCommandRunsThroughOptions(t *testing.T) {
	root := NewRootCommand(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var leaves, walk func(*cobra.Command)
	seen := map[string]string{}
	leaves = func(cmd *cobra.Command) {
		if cmd.HasSubCommands() {
			if cmd.Annotations[annotationOptions] != "" {
				t.Errorf("%s groups subcommands but runs %s", cmd.CommandPath(), cmd.Annotations[annotationOptions])
			}
			return
		}
		typ := cmd.Annotations[annotationOptions]
		if typ == "" {
			t.Errorf("%s does not run through Complete -> Validate -> Run (build it with runs)", cmd.CommandPath())
		}
		seen[cmd.CommandPath()] = typ
	}
	walk = func(cmd *cobra.Command) {
		leaves(cmd)
		for _, sub := range cmd.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub)
		}
	}
	walk(root)
	if len(seen) < 30 {
		t.Errorf("found %d leaf commands: %v", len(seen), seen)
	}
}
