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
	envOptions
	ImageTag string
	Promote  bool
	Timeout  time.Duration
	Webhook  string

	c client.Client
}

func newPipelineDeployCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &pipelineOptions{envOptions: envOptions{kube: kube, streams: streams}}
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Timeout <= 0 {
				return errors.New("--timeout must be positive")
			}
			if o.ImageTag != "" {
				if !imageTag.MatchString(o.ImageTag) {
					return fmt.Errorf("--image-tag %q is not an image tag (letters, digits, _ . and -, at most 128, not starting with . or -; e.g. 1.2.3)", o.ImageTag)
				}
				o.Sets = append(o.Sets, "api.image.tag="+o.ImageTag)
			} else {
				o.ImageTag = "the environment's api version"
			}
			if err := o.connect(cmd.Context()); err != nil {
				return err
			}
			start := time.Now()
			err := o.deploy(cmd.Context())
			if err != nil {
				return o.fail(cmd.Context(), err)
			}
			fmt.Fprintf(streams.Out, "deployed %s to %s (%s) in %.1fs\n", o.ImageTag, o.plan.Env.Name, o.target, time.Since(start).Seconds())
			return nil
		},
	}
	o.bindFlagsWithSets(cmd)
	cmd.Flags().StringVar(&o.ImageTag, "image-tag", "", "the api version to deploy (default: the environment file's)")
	cmd.Flags().BoolVar(&o.Promote, "promote", false, "promote a rollout that waits for manual promotion")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 15*time.Minute, "how long the whole step may take")
	cmd.Flags().StringVar(&o.Webhook, "notify-webhook", os.Getenv(EnvNotifyWebhook), "Slack-compatible webhook for failures (default $"+EnvNotifyWebhook+")")
	return cmd
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
	promoted := false
	b, err = rollouts.Follow(ctx, client.ObjectKeyFromObject(b), 500*time.Millisecond, func(b *v1alpha1.BlueGreenDeployment, st bluegreen.State) (bool, error) {
		switch {
		case st == bluegreen.StateDone:
			return true, nil
		case st == bluegreen.StateFailed:
			return true, fmt.Errorf("rollout of %s %s (%s): %s", b.Name, b.Status.Phase, bluegreen.FailureReason(b), b.Status.Message)
		case st == bluegreen.StateWaitingForPromotion && !promoted:
			current := bluegreen.TemplateRevision(&b.Spec.Template)
			if !o.Promote {
				fmt.Fprintf(o.streams.Out, "%s revision %s is ready and waits for promotion (pass --promote)\n", b.Name, current)
				return true, nil
			}
			if _, err := rollouts.Promote(ctx, b); err != nil {
				return true, fmt.Errorf("promote %s: %w", b.Name, err)
			}
			promoted = true
			fmt.Fprintf(o.streams.Out, "promoted %s revision %s\n", b.Name, current)
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && b != nil {
		return fmt.Errorf("rollout of %s not finished after %v (%s: %s)", b.Name, o.Timeout, b.Status.Phase, b.Status.Message)
	}
	return err
}

// rollout is the environment's BlueGreenDeployment, or nil when the api is
// deployed as a plain Deployment.
func (o *pipelineOptions) rollout(ctx context.Context) (*v1alpha1.BlueGreenDeployment, error) {
	if o.c == nil {
		c := o.release.Client()
		o.c = c
	}
	for _, obj := range o.plan.Objects {
		if obj.GetKind() != "BlueGreenDeployment" {
			continue
		}
		var b v1alpha1.BlueGreenDeployment
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

func newPipelineAbortCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	o := &pipelineOptions{envOptions: envOptions{kube: kube, streams: streams}}
	var reason string
	cmd := &cobra.Command{
		Use:     "abort --env ENV --reason TEXT",
		Example: "  ragdeploy pipeline abort --env production --reason \"smoke test failed\"",
		Short:   "Abort the environment's rollout in flight and notify (a pipeline's failure step)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reason == "" {
				return errors.New("--reason is required")
			}
			if err := o.connect(cmd.Context()); err != nil {
				return err
			}
			msg, err := o.abortInFlight(cmd.Context(), reason)
			if err != nil {
				return err
			}
			if msg != "" {
				fmt.Fprintln(streams.Out, msg)
			}
			o.ImageTag = "(pipeline)"
			o.notify(cmd.Context(), "PipelineFailed", reason)
			return nil
		},
	}
	o.bindFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why the pipeline failed (sent with the notification)")
	cmd.Flags().StringVar(&o.Webhook, "notify-webhook", os.Getenv(EnvNotifyWebhook), "Slack-compatible webhook (default $"+EnvNotifyWebhook+")")
	return cmd
}

func newPipelineControllerCommand(streams Streams, kube *kubeOptions) *cobra.Command {
	var image, namespace string
	var sets []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "controller --image REF",
		Example: "  ragdeploy pipeline controller --image ghcr.io/agentic-rag/ragdeploy@sha256:...",
		Short:   "Install or upgrade the ragdeploy controller (charts/ragdeploy) with an image",
		Long: "The pipeline's first deploy step: the controller chart from this repository,\n" +
			"as Helm release ragdeploy in --release-namespace, running --image (pinned by\n" +
			"digest, as cd.yml's build job publishes it, or by tag). Waits until it is ready.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			values, err := controllerImageValues(image)
			if err != nil {
				return err
			}
			for _, s := range sets {
				if err := strvals.ParseInto(s, values); err != nil {
					return fmt.Errorf("--set %q: %w", s, err)
				}
			}
			if timeout <= 0 {
				return errors.New("--timeout must be positive")
			}
			c, err := render.LoadChart(charts.FS, "ragdeploy")
			if err != nil {
				return err
			}
			t := release.Target{Kubeconfig: kube.Kubeconfig, Context: kube.Context, Namespace: namespace, Name: "ragdeploy"}
			// Rendered once, before the cluster is contacted.
			plan, err := release.PrepareChart(cmd.Context(), c, t, values)
			if err != nil {
				return err
			}
			m, err := release.NewManager(t)
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := m.ApplyChart(cmd.Context(), plan, release.Options{Timeout: timeout, Progress: streams.Out})
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "controller %s revision %d runs %s (ready in %.1fs)\n", t, res.Revision, image, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "controller image, repository@sha256:... or repository:tag")
	cmd.Flags().StringVar(&namespace, "release-namespace", "ragdeploy-system", "namespace of the controller release")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a chart value (a.b=c)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the controller to be ready")
	_ = cmd.MarkFlagRequired("image")
	return cmd
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
