package bluegreen

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// RevisionName is the ControllerRevision that stores a revision's pod
// template, so `ragdeploy rollout undo` can return to it.
func RevisionName(bgd, rev string) string { return bgd + "-" + rev }

// recordRevision stores the current template as a ControllerRevision, and
// prunes revisions that fell out of the history.
func (r *Reconciler) recordRevision(ctx context.Context, b *v1alpha1.BlueGreenDeployment, rev string) error {
	name := RevisionName(b.Name, rev)
	var existing appsv1.ControllerRevision
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, &existing)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	data, err := json.Marshal(b.Spec.Template)
	if err != nil {
		return err
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: b.Namespace, Name: name,
			Labels:          map[string]string{LabelName: b.Name, LabelRevision: rev},
			OwnerReferences: []metav1.OwnerReference{*ownerReference(b)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: b.Generation,
	}
	if err := r.Client.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("store revision %s: %w", rev, err)
	}
	return r.pruneRevisions(ctx, b, rev)
}

// pruneRevisions deletes stored templates of revisions no longer in the history.
func (r *Reconciler) pruneRevisions(ctx context.Context, b *v1alpha1.BlueGreenDeployment, current string) error {
	keep := map[string]bool{current: true, b.Status.StableRevision: true}
	for _, h := range b.Status.History {
		keep[h.Revision] = true
	}
	var list appsv1.ControllerRevisionList
	if err := r.Client.List(ctx, &list, client.InNamespace(b.Namespace), client.MatchingLabels{LabelName: b.Name}); err != nil {
		return err
	}
	for i := range list.Items {
		cr := &list.Items[i]
		if !keep[cr.Labels[LabelRevision]] {
			if err := r.Client.Delete(ctx, cr); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// StoredTemplate reads the pod template of a revision from its ControllerRevision.
func StoredTemplate(ctx context.Context, c client.Reader, namespace, bgd, rev string) (*corev1.PodTemplateSpec, error) {
	var cr appsv1.ControllerRevision
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: RevisionName(bgd, rev)}, &cr); apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s/%s has no revision %s", namespace, bgd, rev)
	} else if err != nil {
		return nil, fmt.Errorf("revision %s of %s/%s: %w", rev, namespace, bgd, err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(cr.Data.Raw, &t); err != nil {
		return nil, fmt.Errorf("revision %s of %s/%s: %w", rev, namespace, bgd, err)
	}
	return &t, nil
}

// FailureReason is why a rollout is Aborted or Degraded: the abort's reason,
// else the Degraded condition's ("" when it is neither).
func FailureReason(b *v1alpha1.BlueGreenDeployment) string {
	if b.Status.Phase == v1alpha1.PhaseAborted {
		return b.Status.AbortReason
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason
	}
	return ""
}
