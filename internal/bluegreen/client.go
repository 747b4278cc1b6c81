package bluegreen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Rollouts steers Rollouts through the API server: the verbs of
// `ragdeploy rollout`, the pipeline's deploy step, the demo and the
// benchmarks, each checking its preconditions once for every caller.
type Rollouts struct {
	Client client.Client
}

// ErrNothingToDo is wrapped by a verb that finds nothing to act on (promote
// or abort of a stable revision, abort of an aborted one, retry of one that
// is not aborted).
var ErrNothingToDo = errors.New("nothing to do")

// nothingTo is the error of a verb with nothing to act on.
func nothingTo(verb, format string, args ...any) error {
	return nothingToDoError("nothing to " + verb + ": " + fmt.Sprintf(format, args...))
}

// nothingToDoError is ErrNothingToDo with the verb's own message.
type nothingToDoError string

func (e nothingToDoError) Error() string      { return string(e) }
func (nothingToDoError) Is(target error) bool { return target == ErrNothingToDo }

// Get reads a Rollout, with a clear error when it is missing.
func (r Rollouts) Get(ctx context.Context, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	var b v1alpha1.Rollout
	if err := r.Client.Get(ctx, key, &b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("rollout %s not found (hint: ragdeploy rollout list -n %s)", key, key.Namespace)
		}
		return nil, fmt.Errorf("rollout %s: %w", key, err)
	}
	return &b, nil
}

// inFlight returns the revision being rolled out, or ErrNothingToDo when
// the template's revision is already stable.
func inFlight(b *v1alpha1.Rollout, verb string) (string, error) {
	rev := TemplateRevision(&b.Spec.Template)
	if rev == b.Status.StableRevision {
		return "", nothingTo(verb, "revision %s of %s is already stable", rev, b.Name)
	}
	return rev, nil
}

// Promotion is what a promote released: the revision in flight, and for
// a canary's pause the step.
type Promotion struct {
	Revision string
	// Step is the index of the canary pause released; nil when the whole
	// rollout was promoted (blue-green, or a canary's steps skipped).
	Step *int32
}

// Promote asks the controller to promote the revision in flight: a
// blue-green one once it is ready and its checks pass; a canary or rolling
// update past the pause it waits at (PromoteFull skips every step left).
func (r Rollouts) Promote(ctx context.Context, b *v1alpha1.Rollout) (Promotion, error) {
	if b.Spec.Strategy.Canary == nil && b.Spec.Strategy.Rolling == nil {
		return r.PromoteFull(ctx, b)
	}
	rev, err := promotable(b)
	if err != nil {
		return Promotion{}, err
	}
	step, ok := PausedStep(b)
	if !ok {
		return Promotion{}, nothingTo("promote", "%s is not paused at a step (%s); `ragdeploy rollout promote --full` skips the steps left", b.Name, b.Status.Message)
	}
	return Promotion{Revision: rev, Step: &step}, r.patchStatus(ctx, b, PromoteStepPatch(b, step))
}

// PromoteFull promotes the revision in flight without the steps or
// pauses left (for blue-green, the same as Promote).
func (r Rollouts) PromoteFull(ctx context.Context, b *v1alpha1.Rollout) (Promotion, error) {
	rev, err := promotable(b)
	if err != nil {
		return Promotion{}, err
	}
	return Promotion{Revision: rev}, r.patchStatus(ctx, b, PromotePatch(rev))
}

// promotable returns the revision in flight, unless there is none or it
// was aborted.
func promotable(b *v1alpha1.Rollout) (string, error) {
	rev, err := inFlight(b, "promote")
	if err != nil {
		return "", err
	}
	if b.Status.AbortedRevision == rev {
		return "", fmt.Errorf("revision %s was aborted (%s); run `ragdeploy rollout retry %s` first", rev, b.Status.AbortReason, b.Name)
	}
	return rev, nil
}

// PausedStep is the index of the pause without a duration that a canary
// or rolling update of the current template waits at.
func PausedStep(b *v1alpha1.Rollout) (int32, bool) {
	steps, cs := StepsOf(&b.Spec), StepsProgress(b)
	if cs == nil || b.Status.CurrentRevision != TemplateRevision(&b.Spec.Template) || int(cs.Step) >= len(steps) {
		return 0, false
	}
	step := steps[cs.Step]
	if step.Pause == nil || step.Pause.DurationSeconds != nil || pauseReleased(cs, cs.Step) {
		return 0, false
	}
	return cs.Step, true
}

// StepsProgress is the progress of b's canary or rolling update (nil for
// blue-green, or before the controller has seen it).
func StepsProgress(b *v1alpha1.Rollout) *v1alpha1.StepStatus {
	if b.Spec.Strategy.Rolling != nil {
		return b.Status.Rolling
	}
	return b.Status.Canary
}

// Abort aborts the revision in flight with message (traffic stays on, or
// returns to, the stable color) and returns it.
func (r Rollouts) Abort(ctx context.Context, b *v1alpha1.Rollout, message string) (string, error) {
	rev, err := inFlight(b, "abort")
	if err != nil {
		return "", err
	}
	if b.Status.AbortedRevision == rev {
		return "", nothingTo("abort", "revision %s of %s is already aborted (%s); traffic is on the stable color %s", rev, b.Name, b.Status.AbortReason, b.Status.StableColor)
	}
	return rev, r.patchStatus(ctx, b, AbortPatch(rev, message))
}

// Retry rolls the aborted current revision out again (its failed
// pre-deploy Job, if any, is deleted so that it runs again) and returns it.
func (r Rollouts) Retry(ctx context.Context, b *v1alpha1.Rollout) (string, error) {
	rev := TemplateRevision(&b.Spec.Template)
	if b.Status.AbortedRevision != rev {
		return "", nothingTo("retry", "revision %s of %s is not aborted", rev, b.Name)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: PreDeployJobName(b.Name, rev)}}
	if err := r.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("delete pre-deploy Job %s: %w", job.Name, err)
	}
	return rev, r.patchStatus(ctx, b, RetryPatch(time.Now()))
}

// patchStatus merges an intent into the status.
func (r Rollouts) patchStatus(ctx context.Context, b *v1alpha1.Rollout, patch []byte) error {
	if err := r.Client.Status().Patch(ctx, b, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("rollout %s/%s: %w", b.Namespace, b.Name, err)
	}
	return nil
}

// PatchOp is one RFC 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Patch writes ops, which turn b into mutated, as a JSON patch: fields the
// change does not touch stay exactly as stored, so a later drift check sees
// no change it did not make. mutated is validated first; a failed test op
// (b changed meanwhile) is said so.
func (r Rollouts) Patch(ctx context.Context, b, mutated *v1alpha1.Rollout, ops []PatchOp) error {
	if errs := Validate(mutated); len(errs) > 0 {
		return fmt.Errorf("rollout %s/%s would be invalid: %w", b.Namespace, b.Name, errs.ToAggregate())
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	if err := r.Client.Patch(ctx, b, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "test") {
			return fmt.Errorf("rollout %s/%s changed while the command ran (its containers differ); nothing was changed, run it again", b.Namespace, b.Name)
		}
		return fmt.Errorf("patch Rollout %s/%s: %w", b.Namespace, b.Name, err)
	}
	return nil
}

// SetImages returns b with the named containers' images set, all or none,
// and the patch that does the same: a test of each container's name at its
// index (so a reordered list is never patched blindly) and a replace of its
// image.
func SetImages(b *v1alpha1.Rollout, images map[string]string) (*v1alpha1.Rollout, []PatchOp, error) {
	mutated := b.DeepCopy()
	var names []string
	var ops []PatchOp
	found := map[string]bool{}
	for i := range mutated.Spec.Template.Spec.Containers {
		c := &mutated.Spec.Template.Spec.Containers[i]
		names = append(names, c.Name)
		if img, ok := images[c.Name]; ok {
			c.Image, found[c.Name] = img, true
			path := fmt.Sprintf("/spec/template/spec/containers/%d", i)
			ops = append(ops, PatchOp{Op: "test", Path: path + "/name", Value: c.Name}, PatchOp{Op: "replace", Path: path + "/image", Value: img})
		}
	}
	for name := range images {
		if !found[name] {
			return nil, nil, fmt.Errorf("container %q not in %s (containers: %s)", name, b.Name, strings.Join(names, ", "))
		}
	}
	return mutated, ops, nil
}

// State is where a rollout stands, read the same way by everyone who
// follows one.
type State string

// The states of a rollout.
const (
	// StateInProgress: the controller has not seen the current spec yet, or
	// the rollout is moving.
	StateInProgress State = "InProgress"
	// StateWaitingForPromotion: the current revision is ready and paused
	// for `ragdeploy rollout promote`.
	StateWaitingForPromotion State = "WaitingForPromotion"
	// StateDone: the current revision is stable and serves.
	StateDone State = "Done"
	// StateFailed: the current revision was aborted (a check, the progress
	// deadline, a user), or the rollout is degraded or invalid.
	StateFailed State = "Failed"
)

// StateOf reads the state of b from its status. An invalid spec is Failed
// as soon as the controller has seen it: it never gets as far as recording
// the template's revision.
func StateOf(b *v1alpha1.Rollout) State {
	return stateOf(b.Generation, TemplateRevision(&b.Spec.Template), &b.Status)
}

// stateOf is StateOf of a status, for a rollout at generation whose
// template is revision current.
func stateOf(generation int64, current string, st *v1alpha1.RolloutStatus) State {
	if st.ObservedGeneration != generation {
		return StateInProgress
	}
	if st.Phase == v1alpha1.PhaseDegraded && FailureReason(&v1alpha1.Rollout{Status: *st}) == v1alpha1.ReasonInvalidSpec {
		return StateFailed
	}
	if st.CurrentRevision != current {
		return StateInProgress
	}
	switch st.Phase {
	case v1alpha1.PhaseHealthy:
		if st.StableRevision == current {
			return StateDone
		}
	case v1alpha1.PhaseAborted, v1alpha1.PhaseDegraded:
		return StateFailed
	case v1alpha1.PhasePaused:
		return StateWaitingForPromotion
	}
	return StateInProgress
}

// Follow reads the rollout every interval and hands it with its state to
// see, until see says stop (or fails) or ctx ends; it returns the last
// rollout read.
func (r Rollouts) Follow(ctx context.Context, key types.NamespacedName, interval time.Duration, see func(*v1alpha1.Rollout, State) (stop bool, err error)) (*v1alpha1.Rollout, error) {
	for {
		b, err := r.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		stop, err := see(b, StateOf(b))
		if stop || err != nil {
			return b, err
		}
		select {
		case <-ctx.Done():
			return b, ctx.Err()
		case <-time.After(interval):
		}
	}
}
