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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// DeploymentName is the Deployment of a color.
func DeploymentName(name string, c v1alpha1.Color) string { return name + "-" + string(c) }

// PreDeployJobName is the pre-deploy Job of a revision.
func PreDeployJobName(name, rev string) string { return name + "-predeploy-" + rev }

// RevisionName is the ControllerRevision that stores a revision's pod
// template, so `ragdeploy rollout undo` can return to it.
func RevisionName(name, rev string) string { return name + "-" + rev }

// StoredTemplate reads the pod template of a revision from its ControllerRevision.
func StoredTemplate(ctx context.Context, c client.Reader, namespace, name, rev string) (*corev1.PodTemplateSpec, error) {
	var cr appsv1.ControllerRevision
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: RevisionName(name, rev)}, &cr); apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s/%s has no revision %s", namespace, name, rev)
	} else if err != nil {
		return nil, fmt.Errorf("revision %s of %s/%s: %w", rev, namespace, name, err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(cr.Data.Raw, &t); err != nil {
		return nil, fmt.Errorf("revision %s of %s/%s: %w", rev, namespace, name, err)
	}
	return &t, nil
}

// FailureReason is why a rollout is Aborted or Degraded: the abort's reason,
// else the Degraded condition's ("" when it is neither).
func FailureReason(b *v1alpha1.Rollout) string {
	if b.Status.Phase == v1alpha1.PhaseAborted {
		return b.Status.AbortReason
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason
	}
	return ""
}
