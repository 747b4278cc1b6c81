package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Job measures by running a Kubernetes Job: one Job per measurement,
// successful when it completes, failed when it fails. While it runs the
// measurement is pending.
type Job struct {
	Client client.Client
}

// JobName is the Job of one measurement of a check: stable across
// reconciles, unique per revision, stage, check and attempt, at most 63
// characters.
func JobName(t Target, check string) string {
	id := fmt.Sprintf("%s/%s/%s/%s/%d", t.Name, t.Revision, t.Stage, check, t.Attempt)
	sum := sha256.Sum256([]byte(id))
	prefix := strings.TrimRight(fmt.Sprintf("%.40s", t.Name+"-"+check), "-.")
	return strings.ToLower(prefix + "-" + hex.EncodeToString(sum[:])[:10])
}

// Measure implements Provider.
func (j Job) Measure(ctx context.Context, t Target, c *v1alpha1.AnalysisCheck) Result {
	name := JobName(t, c.Name)
	var job batchv1.Job
	err := j.Client.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: name}, &job)
	if apierrors.IsNotFound(err) {
		spec := c.Job.Spec.DeepCopy()
		if spec.Template.Spec.RestartPolicy == "" {
			spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}
		job = batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: t.Namespace, Name: name,
				Labels: map[string]string{v1alpha1.LabelName: t.Name, "ragdeploy.io/check": c.Name},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout",
					Name: t.Name, UID: t.OwnerUID, Controller: new(true), BlockOwnerDeletion: new(true),
				}},
			},
			Spec: *spec,
		}
		if err := j.Client.Create(ctx, &job); err != nil && !apierrors.IsAlreadyExists(err) {
			return Result{Message: fmt.Sprintf("create Job %s: %v", name, err)}
		}
		return Result{Pending: true, Message: fmt.Sprintf("Job %s started", name)}
	}
	if err != nil {
		return Result{Pending: true, Message: fmt.Sprintf("get Job %s: %v", name, err)}
	}
	for _, cond := range job.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobComplete:
			return Result{Success: true, Message: fmt.Sprintf("Job %s completed", name)}
		case batchv1.JobFailed:
			return Result{Message: fmt.Sprintf("Job %s failed: %s", name, cond.Message)}
		}
	}
	return Result{Pending: true, Message: fmt.Sprintf("Job %s running", name)}
}
