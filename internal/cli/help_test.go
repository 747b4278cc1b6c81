package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEveryCommandHasExamplesAndPlainFlagTypes: every command a user runs
// shows an Examples section in its help, and no flag's help prints an odd
// type (pflag takes a `quoted` word in a usage string as the type's name).
func TestEveryCommandHasExamplesAndPlainFlagTypes(t *testing.T) {
	plain := map[string]bool{"": true, "string": true, "int": true, "int32": true, "duration": true, "stringArray": true, "strings": true, "float": true, "uint": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.HasSubCommands() || c.Hidden || c.Name() == "help" || c.Name() == "completion" || strings.HasPrefix(c.CommandPath(), "ragdeploy completion") {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Examples", c.CommandPath())
		}
		for _, line := range strings.Split(c.Example, "\n") {
			checkExample(t, c.CommandPath(), line)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); !plain[name] {
				t.Errorf("%s --%s shows the type %q", c.CommandPath(), f.Name, name)
			}
		})
	}
	walk(NewRootCommand(Streams{}))
}

// checkExample parses an example's ragdeploy command line as the CLI would
// (command and flags; nothing runs): a misspelled flag or command fails.
func checkExample(t *testing.T, where, line string) {
	t.Helper()
	line, _, _ = strings.Cut(line, " #")
	if _, after, ok := strings.Cut(line, "| "); ok {
		line = after
	}
	line, _, _ = strings.Cut(line, " && ")
	line, _, _ = strings.Cut(line, " < ")
	args := strings.Fields(line)
	if len(args) == 0 || args[0] != "ragdeploy" {
		return
	}
	root := NewRootCommand(Streams{})
	cmd, rest, err := root.Find(args[1:])
	if err != nil || cmd == root {
		t.Errorf("%s example %q: no such command (%v)", where, line, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s example %q: %v", where, line, err)
	}
}

// TestClusterFlagsOnlyWhereACommandTalksToACluster: --kubeconfig,
// --context and -n appear on commands that use a cluster and on no other.
func TestClusterFlagsOnlyWhereACommandTalksToACluster(t *testing.T) {
	root := NewRootCommand(Streams{})
	for path, want := range map[string]bool{
		"rollout status": true, "rollout list": true, "install": true, "rollback": true, "status": true, "pipeline deploy": true, "controller": true,
		"render": false, "validate": false, "secrets encrypt": false, "env list": false, "local up": false, "version": false,
	} {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, name := range []string{"kubeconfig", "context", "namespace"} {
			if got := cmd.Flags().Lookup(name) != nil || cmd.PersistentFlags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil; got != want {
				t.Errorf("ragdeploy %s has --%s: %t; want %t", path, name, got, want)
			}
		}
	}
}

// TestCompletion: --env completes with the environments' names, -o with
// the formats the command takes (shell completion as cobra serves it).
func TestCompletion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"install", "--env", ""}, []string{"development", "production", "staging"}},
		{[]string{"rollout", "status", "--env", "st"}, []string{"development", "production", "staging"}},
		{[]string{"status", "-o", ""}, []string{"text", "json", "yaml"}},
		{[]string{"render", "-o", ""}, []string{"yaml", "json"}},
	} {
		code, stdout, stderr := run(t, append([]string{cobra.ShellCompRequestCmd}, tt.args...)...)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if code != 0 || len(lines) == 0 || !slices.Equal(lines[:len(lines)-1], tt.want) || lines[len(lines)-1] != ":4" {
			t.Errorf("complete %v: exit %d, %q (%s); want %v then :4 (no file completion)", tt.args, code, lines, stderr, tt.want)
		}
	}
}

// TestOutputIsAlwaysAFormat: wherever -o/--output exists it takes a
// format (files and directories have --output-file, --output-dir).
func TestOutputIsAlwaysAFormat(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		f := c.Flags().Lookup("output")
		if f == nil {
			return
		}
		if f.Shorthand != "o" || (f.DefValue != "text" && f.DefValue != "yaml") {
			t.Errorf("%s --output: shorthand %q, default %q; want -o with a format as default", c.CommandPath(), f.Shorthand, f.DefValue)
		}
	}
	walk(NewRootCommand(Streams{}))
}
