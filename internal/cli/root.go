// Package cli holds the ragdeploy commands. Each command binds its flags to an
// options struct and runs Complete -> Validate -> Run; output goes to the
// injected Streams so commands are tested in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Version and Commit are set at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// ExitError carries a specific exit code out of a command.
type ExitError struct {
	Code int
	Err  error
	// Finding marks a result, not a failure (diff found changes, drift
	// found drift): printed as it is, without "Error:".
	Finding bool
}

// found ends a command that ran to completion and has something to report.
func found(format string, args ...any) *ExitError {
	return &ExitError{Code: exitDifferences, Err: fmt.Errorf(format, args...), Finding: true}
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// annotationOwnLogger marks a command that sets controller-runtime's logger
// itself (the first logger set is the one that stays).
const annotationOwnLogger = "ragdeploy.io/own-logger"

// annotationOptions names the options type a leaf command runs (set by runs).
const annotationOptions = "ragdeploy.io/options"

// options is what every leaf command runs, as kubectl's commands do:
// Complete fills in what the flags and arguments leave out (names from
// arguments, defaults, the environment file) and changes nothing; Validate
// refuses bad input before anything is done; Run does the work. A command
// that works on a release in its cluster is also a connector: it connects
// after Validate, so bad input is reported before any kubeconfig is read.
type options interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// connector is an options that connects to a cluster before Run.
type connector interface {
	Connect(ctx context.Context) error
}

// runs makes cmd run o through Complete, Validate and Run.
func runs(cmd *cobra.Command, o options) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if c, ok := o.(connector); ok {
			if err := c.Connect(cmd.Context()); err != nil {
				return err
			}
		}
		return o.Run(cmd.Context())
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationOptions] = fmt.Sprintf("%T", o)
	return cmd
}

// NewRootCommand builds the ragdeploy command tree.
func NewRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "ragdeploy",
		Short: "Deploy the Agentic RAG platform to Kubernetes",
		Long: "ragdeploy deploys the Agentic RAG platform per environment, switches versions\n" +
			"blue-green with zero downtime, rolls back automatically and reports drift.",
		Version:       fmt.Sprintf("%s (commit %s)", Version, Commit),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			// controller-runtime's clients log through its logger, and warn on
			// stderr when none was set by 30 s. Commands report through their
			// own output; the ones that run a controller set a real logger.
			if cmd.Annotations[annotationOwnLogger] == "" {
				ctrllog.SetLogger(logr.Discard())
			}
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetVersionTemplate("ragdeploy {{.Version}}\n")
	// --version without a shorthand: -v means --verbose wherever it exists.
	root.Flags().Bool("version", false, "print the version (ragdeploy version shows more)")
	// The cluster flags (--kubeconfig, --context, -n) only on the commands
	// that talk to a cluster; render and validate never do.
	kube := &kubeOptions{}
	onCluster := []*cobra.Command{
		newControllerCommand(streams, kube), newRolloutCommand(streams, kube), newInstallCommand(streams, kube),
		newUpgradeCommand(streams, kube), newDiffCommand(streams, kube), newUninstallCommand(streams, kube),
		newDriftCommand(streams, kube), newTestCommand(streams, kube), newStatusCommand(streams, kube),
		newHistoryCommand(streams, kube), newRollbackCommand(streams, kube), newListCommand(streams, kube), newReportCommand(streams, kube),
		newPipelineCommand(streams, kube),
	}
	for _, cmd := range onCluster {
		kube.bindFlags(cmd)
	}
	offline := &kubeOptions{}
	root.AddCommand(onCluster...)
	root.AddCommand(newLocalCommand(streams), newRenderCommand(streams, offline), newValidateCommand(streams, offline),
		newEnvCommand(streams), newSecretsCommand(streams), newVersionCommand(streams))
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every command that only groups subcommands
// fail on an argument that names none of them (cobra prints help and exits
// 0 for those, so a typo in a CI script would pass). Without arguments such
// a command prints its help, as kubectl's do.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("\n\nDid you mean this?\n\t%s", strings.Join(s, "\n\t"))
		}
		return fmt.Errorf("%s\n\nRun '%s --help' for its commands", msg, cmd.CommandPath())
	}
}

// Execute runs the command line args and returns the process exit code:
// 0 on success, the code of an ExitError, else 1.
func Execute(ctx context.Context, streams Streams, args []string) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) && exit.Finding {
		fmt.Fprintln(streams.ErrOut, err)
		return exit.Code
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	if exit != nil {
		return exit.Code
	}
	return 1
}
