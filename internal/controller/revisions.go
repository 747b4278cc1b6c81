package controller

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// recordRevision stores the current template as a ControllerRevision, and
// prunes revisions that fell out of the history.
func (r *Reconciler) recordRevision(ctx context.Context, b *v1alpha1.Rollout, rev string) error {
	name := bluegreen.RevisionName(b.Name, rev)
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
			Labels:          map[string]string{bluegreen.LabelName: b.Name, bluegreen.LabelRevision: rev},
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
func (r *Reconciler) pruneRevisions(ctx context.Context, b *v1alpha1.Rollout, current string) error {
	keep := map[string]bool{current: true, b.Status.StableRevision: true}
	for _, h := range b.Status.History {
		keep[h.Revision] = true
	}
	var list appsv1.ControllerRevisionList
	if err := r.Client.List(ctx, &list, client.InNamespace(b.Namespace), client.MatchingLabels{bluegreen.LabelName: b.Name}); err != nil {
		return err
	}
	for i := range list.Items {
		cr := &list.Items[i]
		if !keep[cr.Labels[bluegreen.LabelRevision]] {
			if err := r.Client.Delete(ctx, cr); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}
