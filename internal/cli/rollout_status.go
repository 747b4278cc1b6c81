package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// Exit codes of `rollout status`.
const (
	exitRolloutFailed     = 2 // aborted or degraded
	exitRolloutInProgress = 3 // not finished (without --watch, or at --timeout)
)

// statusOptions print a rollout's state, once or until it finishes.
type statusOptions struct {
	rolloutOptions
	Watch    bool
	Timeout  time.Duration
	Interval time.Duration
	Output   string
}

func newRolloutStatusCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &statusOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a rollout; exit 0 when healthy, 2 when aborted or degraded, 3 while in progress",
		Long: "Shows phase, colours, ready counts, analysis results and recent history.\n" +
			"With --watch it follows the rollout until it is healthy (exit 0) or aborted or\n" +
			"degraded (exit 2), so a pipeline can gate on it; at --timeout it exits 3.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if err := o.complete(args); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "follow the rollout until it finishes")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "with --watch: give up after this long")
	cmd.Flags().DurationVar(&o.Interval, "interval", 500*time.Millisecond, "with --watch: how often to look")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "text, json or yaml")
	return cmd
}

// validateOutput checks an --output flag.
func validateOutput(output string) error {
	switch output {
	case "text", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output: %q is not one of text, json, yaml", output)
}

func (o *statusOptions) validate() error {
	if err := validateOutput(o.Output); err != nil {
		return err
	}
	if o.Timeout <= 0 || o.Interval <= 0 {
		return errors.New("--timeout and --interval must be positive")
	}
	return nil
}

func (o *statusOptions) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	last := ""
	for {
		b, err := o.get(ctx)
		if err != nil {
			return err
		}
		done, failed := bluegreen.Outcome(b)
		final := done || failed || !o.Watch
		if o.Output == "text" {
			text := renderStatus(b)
			if text != last {
				if o.Watch && last != "" {
					fmt.Fprintf(o.streams.Out, "\n--- %s\n", time.Now().Format("15:04:05"))
				}
				fmt.Fprint(o.streams.Out, text)
				last = text
			}
		} else if final {
			if err := printObject(o.streams.Out, o.Output, b); err != nil {
				return err
			}
		}
		switch {
		case done:
			return nil
		case failed:
			return &ExitError{Code: exitRolloutFailed, Err: fmt.Errorf("rollout of %s %s (%s): %s", o.Name, strings.ToLower(string(b.Status.Phase)), bluegreen.FailureReason(b), b.Status.Message)}
		case !o.Watch:
			return &ExitError{Code: exitRolloutInProgress, Err: fmt.Errorf("rollout of %s in progress (%s)", o.Name, b.Status.Phase)}
		}
		select {
		case <-ctx.Done():
			return &ExitError{Code: exitRolloutInProgress, Err: fmt.Errorf("rollout of %s not finished after %v (%s: %s)", o.Name, o.Timeout, b.Status.Phase, b.Status.Message)}
		case <-time.After(o.Interval):
		}
	}
}

func printObject(w io.Writer, format string, v any) error {
	var data []byte
	var err error
	if format == "json" {
		data, err = json.MarshalIndent(v, "", "  ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// renderStatus is the text view of a rollout.
func renderStatus(b *v1alpha1.BlueGreenDeployment) string {
	var s strings.Builder
	st := &b.Status
	desired := int32(1)
	if b.Spec.Replicas != nil {
		desired = *b.Spec.Replicas
	}
	fmt.Fprintf(&s, "Name:       %s/%s\n", b.Namespace, b.Name)
	fmt.Fprintf(&s, "Phase:      %s", orNone(string(st.Phase)))
	if st.Message != "" {
		fmt.Fprintf(&s, " - %s", st.Message)
	}
	fmt.Fprintf(&s, "\nRevision:   current %s, stable %s\n", orNone(st.CurrentRevision), orNone(st.StableRevision))
	fmt.Fprintf(&s, "Services:   active %s -> %s, preview %s -> %s\n", b.Spec.ActiveService, orNone(string(st.ActiveColor)), orNone(b.Spec.PreviewService), orNone(string(st.PreviewColor)))
	w := tabwriter.NewWriter(&s, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Colours:\tCOLOUR\tREVISION\tREPLICAS\tREADY\tROLE\n")
	for _, c := range []v1alpha1.Color{v1alpha1.Blue, v1alpha1.Green} {
		cs := st.Blue
		if c == v1alpha1.Green {
			cs = st.Green
		}
		var roles []string
		if st.ActiveColor == c {
			roles = append(roles, "active")
		}
		if st.PreviewColor == c {
			roles = append(roles, "preview")
		}
		if st.StableColor == c {
			roles = append(roles, "stable")
		}
		fmt.Fprintf(w, "\t%s\t%s\t%d\t%d/%d\t%s\n", c, orNone(cs.Revision), cs.Replicas, cs.ReadyReplicas, desired, strings.Join(roles, ","))
	}
	_ = w.Flush()
	if len(st.Analysis) > 0 {
		fmt.Fprintln(&s, "Analysis:")
		for _, a := range st.Analysis {
			fmt.Fprintf(&s, "  %-13s %-16s %-10s ok %d, failed %d  %s\n", a.Stage, a.Name, a.Result, a.Successes, a.Failures, a.Message)
		}
	}
	if st.AbortedRevision != "" {
		fmt.Fprintf(&s, "Aborted:    revision %s: %s (%s)\n", st.AbortedRevision, st.AbortReason, st.AbortMessage)
	}
	if len(st.History) > 0 {
		fmt.Fprintln(&s, "History:")
		for i, h := range st.History {
			if i == 5 {
				break
			}
			fmt.Fprintf(&s, "  %-10s %-10s %s\n", h.Revision, h.Outcome, strings.Join(h.Images, ","))
		}
	}
	return s.String()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newRolloutHistoryCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &statusOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the revisions of a rollout, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(o.Output); err != nil {
				return err
			}
			if err := o.complete(args); err != nil {
				return err
			}
			b, err := o.get(cmd.Context())
			if err != nil {
				return err
			}
			if o.Output != "text" {
				return printObject(o.streams.Out, o.Output, b.Status.History)
			}
			w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "REVISION\tOUTCOME\tPROMOTED\tIMAGES\t")
			for _, h := range b.Status.History {
				promoted := "-"
				if h.PromotedAt != nil {
					promoted = h.PromotedAt.UTC().Format(time.RFC3339)
				}
				mark := ""
				if h.Revision == b.Status.StableRevision {
					mark = "(stable)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.Revision, orNone(h.Outcome), promoted, strings.Join(h.Images, ","), mark)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "text, json or yaml")
	return cmd
}
