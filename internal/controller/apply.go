package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// applyColor server-side-applies a color's Deployment as planned. An
// unchanged Deployment is not re-applied.
func (r *Reconciler) applyColor(ctx context.Context, b *v1alpha1.Rollout, w *world, c v1alpha1.Color, cp bluegreen.ColorPlan) error {
	cur := w.deployments[c]
	scaleDownAt := ""
	if cp.ScaleDownAt != nil {
		scaleDownAt = cp.ScaleDownAt.UTC().Format(time.RFC3339)
	}
	if cur != nil && cur.Annotations[bluegreen.AnnotationRevision] == cp.Revision && cur.Spec.Replicas != nil &&
		*cur.Spec.Replicas == cp.Replicas && cur.Annotations[bluegreen.AnnotationScaleDownAt] == scaleDownAt {
		return nil
	}
	var tmpl corev1.PodTemplateSpec
	switch {
	case cp.Revision == w.Revision:
		tmpl = *b.Spec.Template.DeepCopy()
	case cur != nil:
		tmpl = *cur.Spec.Template.DeepCopy()
	default:
		return fmt.Errorf("deployment %s: no template for revision %s", bluegreen.DeploymentName(b.Name, c), cp.Revision)
	}
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[bluegreen.LabelName], tmpl.Labels[bluegreen.LabelColor], tmpl.Labels[bluegreen.LabelRevision] = b.Name, string(c), cp.Revision
	tmplAC := &corev1ac.PodTemplateSpecApplyConfiguration{}
	if err := convert(&tmpl, tmplAC); err != nil {
		return err
	}
	matchLabels := maps.Clone(b.Spec.Selector.MatchLabels)
	matchLabels[bluegreen.LabelColor] = string(c)
	annotations := map[string]string{bluegreen.AnnotationRevision: cp.Revision}
	if scaleDownAt != "" {
		annotations[bluegreen.AnnotationScaleDownAt] = scaleDownAt
	}
	spec := appsv1ac.DeploymentSpec().
		WithReplicas(cp.Replicas).
		WithRevisionHistoryLimit(2).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(matchLabels)).
		WithTemplate(tmplAC)
	if b.Spec.Strategy.Rolling == nil {
		// A blue-green or canary color is re-templated only while the
		// active Service does not select it (a canary's leaves it in the
		// same pass): its new pods all start at once, and its older pods
		// (a warm color kept for rollback) go at once too, each through
		// its drain, instead of one by one, the Deployment default. The
		// switch waits for them to be gone (the Service selects by color),
		// so keeping them until the new pods are ready put their
		// termination between the last new pod Ready and the switch. A
		// rolling update's new color may serve while re-templated, and
		// keeps the default.
		spec.WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
			WithRollingUpdate(appsv1ac.RollingUpdateDeployment().WithMaxSurge(intstr.FromString("100%")).WithMaxUnavailable(intstr.FromString("100%"))))
	}
	ac := appsv1ac.Deployment(bluegreen.DeploymentName(b.Name, c), b.Namespace).
		WithLabels(map[string]string{bluegreen.LabelName: b.Name, bluegreen.LabelColor: string(c)}).
		WithAnnotations(annotations).
		WithOwnerReferences(ownerRef(b)).
		WithSpec(spec)
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(bluegreen.FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply Deployment %s: %w", bluegreen.DeploymentName(b.Name, c), err)
	}
	return nil
}

// convert copies a typed object into its apply configuration through JSON.
func convert(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

func ownerRef(b *v1alpha1.Rollout) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(v1alpha1.GroupVersion.String()).WithKind("Rollout").
		WithName(b.Name).WithUID(b.UID).WithController(true).WithBlockOwnerDeletion(true)
}

// selectColor points a Service at a color by merging the Rollout's
// labels and the color into its selector (other selector keys are kept) and
// records b's claim on it. A Service already on c and claimed by b is not
// written. Claiming is conditional on the Service's resourceVersion, so of
// two rollouts racing for one Service only one can win.
func (r *Reconciler) selectColor(ctx context.Context, b *v1alpha1.Rollout, live *corev1.Service, observed bluegreen.ServiceState, c v1alpha1.Color) error {
	if observed.Color == c && observed.Claimed {
		return nil
	}
	return r.writeSelector(ctx, b, live, observed, string(c), nil)
}

// selectBoth points a Service at both colors: the Rollout's labels
// without a color. Only a Service b has claimed selects both.
func (r *Reconciler) selectBoth(ctx context.Context, b *v1alpha1.Rollout, live *corev1.Service, observed bluegreen.ServiceState) error {
	if observed.Both || !observed.Claimed {
		return nil
	}
	return r.writeSelector(ctx, b, live, observed, nil, nil)
}

// writeSelector merges the Rollout's labels and color (a color name, or
// nil for none) and annotations into a Service's selector and claims it.
func (r *Reconciler) writeSelector(ctx context.Context, b *v1alpha1.Rollout, live *corev1.Service, observed bluegreen.ServiceState, color any, annotations map[string]string) error {
	if live == nil || !observed.Exists || observed.ClaimedBy != "" {
		return nil // bluegreen.Decide reported it; nothing to switch
	}
	selector := map[string]any{bluegreen.LabelColor: color}
	for k, v := range b.Spec.Selector.MatchLabels {
		selector[k] = v
	}
	metadata := map[string]any{}
	annotations = maps.Clone(annotations)
	if !observed.Claimed {
		metadata["resourceVersion"] = live.ResourceVersion
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[bluegreen.AnnotationClaimedBy], annotations[bluegreen.AnnotationClaimUID] = b.Name, string(b.UID)
	}
	if annotations != nil {
		metadata["annotations"] = annotations
	}
	patch, err := json.Marshal(map[string]any{"metadata": metadata, "spec": map[string]any{"selector": selector}})
	if err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: live.Name}}
	if err := r.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("switch Service %s to %v: %w", live.Name, color, err)
	}
	return nil
}

// startPreDeployJob creates the pre-deploy Job of the current revision.
func (r *Reconciler) startPreDeployJob(ctx context.Context, b *v1alpha1.Rollout, rev string) error {
	spec := b.Spec.PreDeployJob.Spec.DeepCopy()
	if spec.Template.Spec.RestartPolicy == "" {
		spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: b.Namespace, Name: bluegreen.PreDeployJobName(b.Name, rev),
			Labels:          map[string]string{bluegreen.LabelName: b.Name, bluegreen.LabelRevision: rev},
			OwnerReferences: []metav1.OwnerReference{*ownerReference(b)},
		},
		Spec: *spec,
	}
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pre-deploy Job %s: %w", job.Name, err)
	}
	return nil
}

func ownerReference(b *v1alpha1.Rollout) *metav1.OwnerReference {
	return metav1.NewControllerRef(b, v1alpha1.GroupVersion.WithKind("Rollout"))
}
