package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v4/pkg/strvals"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/notify"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// imageTag is the OCI distribution spec's grammar for a tag.
var imageTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// EnvNotifyWebhook is where pipeline commands post failures by default.
const EnvNotifyWebhook = "RAGDEPLOY_NOTIFY_WEBHOOK"

func newPipelineCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "The deploy steps of the CD pipeline, runnable anywhere",
		Long: "The steps .github/workflows/deploy.yml and .gitlab-ci.yml run (through\n" +
			"hack/pipeline/*.sh), so what CI does can be run and tested locally.",
	}
	cmd.AddCommand(newPipelineControllerCommand(streams, kube), newPipelineDeployCommand(streams, kube), newPipelineAbortCommand(streams, kube))
	return cmd
}

// pipelineOptions are the deploy step's.
type pipelineOptions struct {
	clusterEnvOptions
	ImageTag string
	Promote  bool
	Timeout  time.Duration
	Webhook  string

	c client.Client
}

func newPipelineDeployCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &pipelineDeployOptions{pipelineOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}}
	cmd := &cobra.Command{
		Use:     "deploy --env ENV [--image-tag TAG]",
		Example: "  ragdeploy pipeline deploy --env staging --image-tag 1.2.0\n  ragdeploy pipeline deploy --env production --image-tag 1.2.0 --promote   # after the approval",
		Short:   "Install or upgrade an environment to an api version and see the rollout through",
		Long: "Upgrades (or installs) the environment with api.image.tag=TAG, waits until every\n" +
			"object is ready, then follows the blue-green rollout: with --promote a rollout\n" +
			"paused for manual promotion is promoted (the pipeline's approval came first), and\n" +
			"the step ends when the new version is stable after its post-promotion checks.\n" +
			"On any failure the rollout is aborted (traffic stays on, or returns to, the last\n" +
			"good color), the webhook is notified and the exit code is 1.",
		Args: cobra.NoArgs,
	}
	o.bindFlagsWithSets(cmd)
	cmd.Flags().StringVar(&o.ImageTag, "image-tag", "", "the api version to deploy (default: the environment file's)")
	cmd.Flags().BoolVar(&o.Promote, "promote", false, "promote a rollout that waits for manual promotion")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "how long the whole step may take")
	cmd.Flags().StringVar(&o.Webhook, "notify-webhook", os.Getenv(EnvNotifyWebhook), "Slack-compatible webhook for failures (default $"+EnvNotifyWebhook+")")
	return runs(cmd, o)
}

// pipelineDeployOptions deploy a version and see its rollout through.
type pipelineDeployOptions struct{ pipelineOptions }

// Complete sets api.image.tag from --image-tag (checked first: it goes into
// what is rendered), then loads the environment.
func (o *pipelineDeployOptions) Complete(cmd *cobra.Command, _ []string) error {
	if o.ImageTag != "" {
		if !imageTag.MatchString(o.ImageTag) {
			return fmt.Errorf("--image-tag %q is not an image tag (letters, digits, _ . and -, at most 128, not starting with . or -; e.g. 1.2.3)", o.ImageTag)
		}
		o.Sets = append(o.Sets, "api.image.tag="+o.ImageTag)
	} else {
		o.ImageTag = "the environment's api version"
	}
	return o.complete(cmd.Context())
}

func (o *pipelineDeployOptions) Validate() error {
	if o.Timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

func (o *pipelineDeployOptions) Run(ctx context.Context) error {
	start := time.Now()
	if err := o.deploy(ctx); err != nil {
		return o.fail(ctx, err)
	}
	fmt.Fprintf(o.streams.Out, "deployed %s to %s (%s) in %.1fs\n", o.ImageTag, o.plan.Env.Name, o.target, time.Since(start).Seconds())
	return nil
}

func (o *pipelineOptions) deploy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fmt.Fprintf(o.streams.Out, "deploy %s with api %s\n", o.target, o.ImageTag)
	res, err := o.release.Upgrade(ctx, o.plan, release.Options{Timeout: o.Timeout, Progress: o.streams.Out})
	if err != nil {
		return err
	}
	if res.Installed {
		fmt.Fprintf(o.streams.Out, "installed %s at revision %d\n", o.target, res.Revision)
	}
	b, err := o.rollout(ctx)
	if err != nil || b == nil {
		return err
	}
	rollouts := bluegreen.Rollouts{Client: o.c}
	// promoted is the last wait point promoted: a canary waits at each of
	// its pauses.
	promoted := ""
	b, err = rollouts.Follow(ctx, client.ObjectKeyFromObject(b), 500*time.Millisecond, func(b *v1alpha1.Rollout, st bluegreen.State) (bool, error) {
		switch {
		case st == bluegreen.StateDone:
			return true, nil
		case st == bluegreen.StateFailed:
			return true, fmt.Errorf("rollout of %s %s (%s): %s", b.Name, b.Status.Phase, bluegreen.FailureReason(b), b.Status.Message)
		case st == bluegreen.StateWaitingForPromotion && promoted != waitPoint(b):
			current := bluegreen.TemplateRevision(&b.Spec.Template)
			if !o.Promote {
				fmt.Fprintf(o.streams.Out, "%s revision %s is ready and waits for promotion (pass --promote)\n", b.Name, current)
				return true, nil
			}
			if _, err := rollouts.Promote(ctx, b); err != nil {
				return true, fmt.Errorf("promote %s: %w", b.Name, err)
			}
			promoted = waitPoint(b)
			fmt.Fprintf(o.streams.Out, "promoted %s revision %s\n", b.Name, current)
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && b != nil {
		return fmt.Errorf("rollout of %s not finished after %v (%s: %s)", b.Name, o.Timeout, b.Status.Phase, b.Status.Message)
	}
	return err
}

// rollout is the environment's Rollout, or nil when the api is
// deployed as a plain Deployment.
func (o *pipelineOptions) rollout(ctx context.Context) (*v1alpha1.Rollout, error) {
	if o.c == nil {
		c := o.release.Client()
		o.c = c
	}
	for _, obj := range o.plan.Objects {
		if obj.GetKind() != "Rollout" {
			continue
		}
		var b v1alpha1.Rollout
		if err := o.c.Get(ctx, client.ObjectKey{Namespace: o.target.Namespace, Name: obj.GetName()}, &b); err != nil {
			return nil, err
		}
		return &b, nil
	}
	return nil, nil
}

// fail aborts the rollout in flight, notifies, and returns the exit error.
func (o *pipelineOptions) fail(ctx context.Context, cause error) error {
	fmt.Fprintf(o.streams.Out, "deploy of %s to %s failed: %v\n", o.ImageTag, o.plan.Env.Name, cause)
	if msg, err := o.abortInFlight(ctx, cause.Error()); err != nil {
		fmt.Fprintf(o.streams.ErrOut, "abort: %v\n", err)
	} else if msg != "" {
		fmt.Fprintln(o.streams.Out, msg)
	}
	o.notify(ctx, "DeployFailed", fmt.Sprintf("deploy of %s to %s failed: %v", o.ImageTag, o.plan.Env.Name, cause))
	return &ExitError{Code: 1, Err: cause}
}

// abortInFlight aborts the current revision unless it is stable or already
// aborted, so traffic stays on the last good color.
func (o *pipelineOptions) abortInFlight(ctx context.Context, reason string) (string, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	b, err := o.rollout(actx)
	if err != nil || b == nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", err
	}
	rev, err := bluegreen.Rollouts{Client: o.c}.Abort(actx, b, "pipeline: "+reason)
	if errors.Is(err, bluegreen.ErrNothingToDo) {
		return fmt.Sprintf("%s: stable revision %s serves on %s", b.Name, b.Status.StableRevision, b.Status.StableColor), nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: aborted revision %s; stable revision %s keeps serving", b.Name, rev, b.Status.StableRevision), nil
}

func (o *pipelineOptions) notify(ctx context.Context, reason, message string) {
	if o.Webhook == "" {
		return
	}
	body, _ := json.Marshal(notify.Message{
		Text: "[ragdeploy] " + o.target.String() + ": " + message, Namespace: o.target.Namespace, Name: o.target.Name,
		Reason: reason, Message: message, Revision: o.ImageTag, Severity: "warning",
	})
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := notify.Post(nctx, &http.Client{}, o.Webhook, body); err != nil {
		fmt.Fprintf(o.streams.ErrOut, "notify: %v\n", err)
	}
}

// pipelineAbortOptions abort the rollout in flight (a pipeline's failure step).
type pipelineAbortOptions struct {
	pipelineOptions
	reason string
}

func newPipelineAbortCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &pipelineAbortOptions{pipelineOptions: pipelineOptions{clusterEnvOptions: newClusterEnvOptions(kube, streams)}}
	cmd := &cobra.Command{
		Use:     "abort --env ENV --reason TEXT",
		Example: "  ragdeploy pipeline abort --env production --reason \"smoke test failed\"",
		Short:   "Abort the environment's rollout in flight and notify (a pipeline's failure step)",
		Args:    cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the pipeline failed (sent with the notification)")
	cmd.Flags().StringVar(&o.Webhook, "notify-webhook", os.Getenv(EnvNotifyWebhook), "Slack-compatible webhook (default $"+EnvNotifyWebhook+")")
	return runs(cmd, o)
}

func (o *pipelineAbortOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.ImageTag = "(pipeline)"
	return o.complete(cmd.Context())
}

func (o *pipelineAbortOptions) Validate() error {
	if o.reason == "" {
		return errors.New("--reason is required")
	}
	return nil
}

func (o *pipelineAbortOptions) Run(ctx context.Context) error {
	msg, err := o.abortInFlight(ctx, o.reason)
	if err != nil {
		return err
	}
	if msg != "" {
		fmt.Fprintln(o.streams.Out, msg)
	}
	o.notify(ctx, "PipelineFailed", o.reason)
	return nil
}

// pipelineControllerOptions install or upgrade the controller with an image.
type pipelineControllerOptions struct {
	kube             *kubeOptions
	streams          Streams
	image, namespace string
	sets             []string
	timeout          time.Duration
	// target and plan: the release and the chart rendered for it (Complete).
	target release.Target
	plan   *release.ChartPlan
}

func newPipelineControllerCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &pipelineControllerOptions{kube: kube, streams: streams}
	cmd := &cobra.Command{
		Use:     "controller --image REF",
		Example: "  ragdeploy pipeline controller --image ghcr.io/agentic-rag/ragdeploy@sha256:...",
		Short:   "Install or upgrade the ragdeploy controller (charts/ragdeploy) with an image",
		Long: "The pipeline's first deploy step: the controller chart from this repository,\n" +
			"as Helm release ragdeploy in --release-namespace, running --image (pinned by\n" +
			"digest, as cd.yml's build job publishes it, or by tag). Waits until it is ready.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&o.image, "image", "", "controller image, repository@sha256:... or repository:tag")
	cmd.Flags().StringVar(&o.namespace, "release-namespace", "ragdeploy-system", "namespace of the controller release")
	cmd.Flags().StringArrayVar(&o.sets, "set", nil, "override a chart value (a.b=c)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the controller to be ready")
	_ = cmd.MarkFlagRequired("image")
	return runs(cmd, o)
}

// Complete renders the chart with the image and --set values, once, before
// the cluster is contacted.
func (o *pipelineControllerOptions) Complete(cmd *cobra.Command, _ []string) error {
	values, err := controllerImageValues(o.image)
	if err != nil {
		return err
	}
	for _, s := range o.sets {
		if err := strvals.ParseInto(s, values); err != nil {
			return fmt.Errorf("--set %q: %w", s, err)
		}
	}
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		return err
	}
	o.target = release.Target{Kubeconfig: o.kube.Kubeconfig, Context: o.kube.Context, Namespace: o.namespace, Name: "ragdeploy"}
	o.plan, err = release.PrepareChart(cmd.Context(), c, o.target, values)
	return err
}

func (o *pipelineControllerOptions) Validate() error {
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

func (o *pipelineControllerOptions) Run(ctx context.Context) error {
	m, err := release.NewManager(o.target)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := m.ApplyChart(ctx, o.plan, release.Options{Timeout: o.timeout, Progress: o.streams.Out})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "controller %s revision %d runs %s (ready in %.1fs)\n", o.target, res.Revision, o.image, time.Since(start).Seconds())
	return nil
}

// controllerImageValues turns an image reference into the controller
// chart's image values.
func controllerImageValues(ref string) (map[string]any, error) {
	img := map[string]any{"registry": ""}
	if repo, digest, ok := strings.Cut(ref, "@"); ok {
		if !strings.HasPrefix(digest, "sha256:") || repo == "" {
			return nil, fmt.Errorf("--image %q: a digest is repository@sha256:<hex>", ref)
		}
		img["repository"], img["digest"] = repo, digest
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") && i > 0 && i < len(ref)-1 {
		img["repository"], img["tag"] = ref[:i], ref[i+1:]
	} else {
		return nil, fmt.Errorf("--image %q: pin a tag or a digest (repository:tag or repository@sha256:...)", ref)
	}
	return map[string]any{"image": img}, nil
}

// waitPoint names where a rollout waits for promotion: its revision, and
// for a canary the step.
func waitPoint(b *v1alpha1.Rollout) string {
	step, _ := bluegreen.PausedStep(b)
	return fmt.Sprintf("%s/%d", bluegreen.TemplateRevision(&b.Spec.Template), step)
}
