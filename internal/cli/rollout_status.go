package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/prober"
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
	// Probe names a target to send requests to while watching (see
	// parseProbe); ProbeRate is requests a second.
	Probe     string
	ProbeRate int
	// probe is Probe as validate parsed it.
	probe probeTarget
}

func newRolloutStatusCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &statusOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:     "status [NAME]",
		Example: "  ragdeploy rollout status --env staging -w\n  ragdeploy rollout status agentic-rag-api -n agentic-rag-staging -w --probe service/agentic-rag-api",
		Short:   "Show a rollout; exit 0 when healthy, 2 when aborted or degraded, 3 while in progress",
		Long: "Shows phase, colors, ready counts, analysis results and recent history.\n" +
			"With --watch it follows the rollout until it is healthy (exit 0) or aborted or\n" +
			"degraded (exit 2), so a pipeline can gate on it; at --timeout it exits 3.",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: kube.completeRollouts,
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "follow the rollout until it finishes")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "with --watch: give up after this long")
	cmd.Flags().DurationVar(&o.Interval, "interval", 500*time.Millisecond, "with --watch: how often to look")
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Probe, "probe", "", "with --watch: send requests to service/NAME[:PORT][/PATH] (through the API server's service proxy) or an http(s) URL, and print each second who answered and how many failed")
	cmd.Flags().IntVar(&o.ProbeRate, "probe-rate", 10, "with --probe: requests a second (1-100)")
	o.bindEnvFlags(cmd)
	return runs(cmd, o)
}

// validateOutput checks an --output flag.
func validateOutput(output string) error {
	switch output {
	case "text", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output: %q is not one of text, json, yaml", output)
}

func (o *statusOptions) Validate() error {
	if err := o.rolloutOptions.Validate(); err != nil {
		return err
	}
	if err := validateOutput(o.Output); err != nil {
		return err
	}
	if o.Timeout <= 0 || o.Interval <= 0 {
		return errors.New("--timeout and --interval must be positive")
	}
	if o.Probe != "" {
		if !o.Watch || o.Output != "text" {
			return errors.New("--probe needs --watch and text output")
		}
		if o.ProbeRate < 1 || o.ProbeRate > 100 {
			return fmt.Errorf("--probe-rate: %d is not between 1 and 100", o.ProbeRate)
		}
		var err error
		if o.probe, err = parseProbe(o.Probe); err != nil {
			return err
		}
	}
	return nil
}

// probeTarget is a parsed --probe: a Service reached through the API
// server's service proxy, or a URL dialed from here.
type probeTarget struct {
	service *prober.ServiceOptions
	url     string
}

// parseProbe reads service/NAME[:PORT][/PATH] (svc/ too; PORT a number or
// name, default the Service's first port; PATH default /) or an http(s) URL.
func parseProbe(s string) (probeTarget, error) {
	if rest, ok := strings.CutPrefix(s, "service/"); ok || strings.HasPrefix(s, "svc/") {
		if !ok {
			rest = strings.TrimPrefix(s, "svc/")
		}
		ref, path, _ := strings.Cut(rest, "/")
		name, port, _ := strings.Cut(ref, ":")
		if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
			return probeTarget{}, fmt.Errorf("--probe %q: service name %q: %s", s, name, strings.Join(errs, "; "))
		}
		if port != "" && len(validation.IsValidPortNum(atoiOrZero(port))) > 0 && len(validation.IsValidPortName(port)) > 0 {
			return probeTarget{}, fmt.Errorf("--probe %q: %q is neither a port number nor a port name", s, port)
		}
		return probeTarget{service: &prober.ServiceOptions{Name: name, Port: port, Path: "/" + path}}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return probeTarget{}, fmt.Errorf("--probe %q: want service/NAME[:PORT][/PATH] or an http(s) URL", s)
	}
	return probeTarget{url: s}, nil
}

func atoiOrZero(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// startProbe starts the --probe requests.
func (o *statusOptions) startProbe(ctx context.Context) (*prober.Prober, error) {
	t := o.probe
	if t.service == nil {
		var d net.Dialer
		return prober.StartHTTP(ctx, prober.HTTPOptions{URL: t.url, Rate: o.ProbeRate, Dial: d.DialContext}), nil
	}
	cfg, err := o.kube.restConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(prober.Config(cfg, o.ProbeRate))
	if err != nil {
		return nil, err
	}
	svc, err := cs.CoreV1().Services(o.namespace).Get(ctx, t.service.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("--probe: Service %s/%s: %w", o.namespace, t.service.Name, err)
	}
	if t.service.Port == "" && len(svc.Spec.Ports) > 0 {
		t.service.Port = strconv.Itoa(int(svc.Spec.Ports[0].Port))
	}
	t.service.Namespace, t.service.Rate = o.namespace, o.ProbeRate
	return prober.Start(ctx, cs, *t.service), nil
}

// trafficLine is one second of --probe traffic.
func trafficLine(s prober.Summary, total, failed int) string {
	var by []string
	for _, v := range s.Versions {
		by = append(by, fmt.Sprintf("%s %d", orNone(v.Version), v.Answers))
	}
	line := fmt.Sprintf("Traffic:    %d requests, %d failed", s.Requests, s.Failed)
	if len(by) > 0 {
		line += "; answered by " + strings.Join(by, ", ")
	}
	line += fmt.Sprintf(" (so far %d, %d failed)", total, failed)
	if s.Failed > 0 {
		line += "; last failure: " + s.LastError
	}
	return line + "\n"
}

func (o *statusOptions) Run(ctx context.Context) error {
	if err := o.connect(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var traffic *prober.Prober
	var sent, lost int
	lastTraffic := time.Now()
	if o.Probe != "" {
		var err error
		if traffic, err = o.startProbe(ctx); err != nil {
			return err
		}
	}
	// Watching on a terminal, one view is redrawn in place; otherwise each
	// change is printed after the last (a log).
	var live *screen
	if width, ok := terminalWidth(o.streams.Out); ok && o.Watch && o.Output == "text" {
		live = &screen{w: o.streams.Out, width: width}
	}
	start := time.Now()
	last, lastTrafficLine := "", ""
	b, err := o.rollouts.Follow(ctx, o.key(), o.Interval, func(b *v1alpha1.Rollout, st bluegreen.State) (bool, error) {
		final := st == bluegreen.StateDone || st == bluegreen.StateFailed || !o.Watch
		if o.Output == "text" {
			text := renderStatus(b)
			if live == nil && text != last {
				if o.Watch && last != "" {
					fmt.Fprintf(o.streams.Out, "\n--- %s\n", time.Now().Format("15:04:05"))
				}
				fmt.Fprint(o.streams.Out, text)
			}
			last = text
			if traffic != nil && (final || time.Since(lastTraffic) >= time.Second) {
				if final {
					// One more second of traffic shows who answers after the
					// rollout ended (a sample window, by design).
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
				s := traffic.Take()
				sent, lost = sent+s.Requests, lost+s.Failed
				lastTrafficLine, lastTraffic = trafficLine(s, sent, lost), time.Now()
				if live == nil {
					fmt.Fprint(o.streams.Out, lastTrafficLine)
				}
			}
			if live != nil {
				view := text + lastTrafficLine
				if !final {
					view += fmt.Sprintf("(watching for %.0fs; ends when healthy or aborted)\n", time.Since(start).Seconds())
				}
				live.show(view)
			}
		} else if final {
			if err := printObject(o.streams.Out, o.Output, asDocument(b)); err != nil {
				return true, err
			}
		}
		return final, nil
	})
	if b == nil {
		return err
	}
	switch st := bluegreen.StateOf(b); {
	case errors.Is(err, context.DeadlineExceeded):
		return &ExitError{Code: exitRolloutInProgress, Err: fmt.Errorf("rollout of %s not finished after %v (%s: %s)", o.Name, o.Timeout, b.Status.Phase, b.Status.Message)}
	case err != nil:
		return err
	case st == bluegreen.StateDone:
		return nil
	case st == bluegreen.StateFailed:
		return &ExitError{Code: exitRolloutFailed, Err: fmt.Errorf("rollout of %s %s (%s): %s", o.Name, strings.ToLower(string(b.Status.Phase)), bluegreen.FailureReason(b), b.Status.Message)}
	default:
		if st == bluegreen.StateWaitingForPromotion {
			return &ExitError{Code: exitRolloutInProgress, Err: fmt.Errorf("rollout of %s waits for promotion (hint: ragdeploy rollout promote %s -n %s)", o.Name, o.Name, o.namespace)}
		}
		return &ExitError{Code: exitRolloutInProgress, Err: fmt.Errorf("rollout of %s in progress (%s)", o.Name, b.Status.Phase)}
	}
}

// asDocument is a rollout as -o json|yaml prints it: with its kind and
// apiVersion, without managedFields (as kubectl shows objects).
func asDocument(b *v1alpha1.Rollout) *v1alpha1.Rollout {
	b = b.DeepCopy()
	b.APIVersion, b.Kind = v1alpha1.GroupVersion.String(), "Rollout"
	b.ManagedFields = nil
	return b
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
func renderStatus(b *v1alpha1.Rollout) string {
	var s strings.Builder
	st := &b.Status
	desired := bluegreen.Replicas(&b.Spec)
	fmt.Fprintf(&s, "Name:       %s/%s\n", b.Namespace, b.Name)
	fmt.Fprintf(&s, "Phase:      %s", orNone(string(st.Phase)))
	if st.Message != "" {
		fmt.Fprintf(&s, " - %s", st.Message)
	}
	fmt.Fprintf(&s, "\nRevision:   current %s, stable %s\n", orNone(st.CurrentRevision), orNone(st.StableRevision))
	active := orNone(string(st.ActiveColor))
	if p := bluegreen.StepsProgress(b); p != nil && p.CanaryPods > 0 {
		active = fmt.Sprintf("%s+%s", st.ActiveColor, st.ActiveColor.Other())
	}
	fmt.Fprintf(&s, "Services:   active %s -> %s, preview %s -> %s\n", b.Spec.ActiveService, active, orNone(b.Spec.PreviewService), orNone(string(st.PreviewColor)))
	renderStrategy(&s, b)
	w := tabwriter.NewWriter(&s, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Colors:\tCOLOR\tREVISION\tREPLICAS\tREADY\tROLE\n")
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

// rolloutHistoryOptions list a rollout's revisions.
type rolloutHistoryOptions struct {
	rolloutOptions
	Output string
}

func newRolloutHistoryCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &rolloutHistoryOptions{rolloutOptions: rolloutOptions{kube: kube, streams: streams}}
	cmd := &cobra.Command{
		Use:               "history [NAME]",
		Example:           "  ragdeploy rollout history --env staging\n  ragdeploy rollout history agentic-rag-api -n agentic-rag-staging -o yaml",
		Short:             "List the revisions of a rollout, newest first",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: kube.completeRollouts,
	}
	bindOutput(cmd, &o.Output)
	o.bindEnvFlags(cmd)
	return runs(cmd, o)
}

func (o *rolloutHistoryOptions) Validate() error {
	if err := o.rolloutOptions.Validate(); err != nil {
		return err
	}
	return validateOutput(o.Output)
}

func (o *rolloutHistoryOptions) Run(ctx context.Context) error {
	b, err := o.get(ctx)
	if err != nil {
		return err
	}
	if o.Output != "text" {
		return printObject(o.streams.Out, o.Output, b.Status.History)
	}
	w := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REVISION\tOUTCOME\tBY\tFINISHED\tDURATION\tIMAGES\t")
	stableMarked := false
	for i := range b.Status.History {
		h := &b.Status.History[i]
		finished := "-"
		if h.FinishedAt != nil {
			finished = h.FinishedAt.UTC().Format(time.RFC3339)
		} else if h.PromotedAt != nil {
			finished = h.PromotedAt.UTC().Format(time.RFC3339)
		}
		mark := ""
		if h.Revision == b.Status.StableRevision && h.Outcome == v1alpha1.OutcomePromoted && !stableMarked {
			mark, stableMarked = "(stable)", true
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Revision, outcomeText(h), orNone(string(h.DecidedBy)), finished, durationText(h), orNone(strings.Join(h.Images, ",")), mark)
	}
	return w.Flush()
}

// renderStrategy says which strategy runs and, for a canary or rolling
// update in flight, its steps, where it stands and the weight it has
// reached.
func renderStrategy(s *strings.Builder, b *v1alpha1.Rollout) {
	steps, cs := bluegreen.StepsOf(&b.Spec), bluegreen.StepsProgress(b)
	name := "canary"
	switch {
	case b.Spec.Strategy.Rolling != nil:
		surge, unavailable := bluegreen.RollingBounds(b.Spec.Strategy.Rolling, bluegreen.Replicas(&b.Spec))
		name = fmt.Sprintf("rolling (maxSurge %d, maxUnavailable %d)", surge, unavailable)
	case b.Spec.Strategy.Canary == nil:
		fmt.Fprintln(s, "Strategy:   blueGreen")
		return
	}
	if cs == nil {
		fmt.Fprintf(s, "Strategy:   %s, %d steps\n", name, len(steps))
		return
	}
	fmt.Fprintf(s, "Strategy:   %s, step %d/%d, weight %s (the steps ask %d%%)\n", name, min(int(cs.Step)+1, len(steps)), len(steps),
		bluegreen.Achieved(cs), cs.SetWeight)
	for i := range steps {
		mark := ""
		switch {
		case i < int(cs.Step):
			mark = "done"
		case i == int(cs.Step):
			mark = "current"
		}
		fmt.Fprintln(s, strings.TrimRight(fmt.Sprintf("  %2d  %-21s %s", i+1, bluegreen.DescribeStep(&steps[i]), mark), " "))
	}
}
