package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// The cached pod keeps what observe reads (labels, deletion, readiness) and
// drops the spec, the bulk of a pod.
func TestPodForCacheKeepsWhatObserveReads(t *testing.T) {
	now := metav1.Now()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "api-blue-1", Labels: map[string]string{"ragdeploy.io/color": "blue"}, DeletionTimestamp: &now,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "agentic-rag/api:1.0.0"}}},
		Status: corev1.PodStatus{
			Phase:             corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "api", Ready: true}},
		},
	}
	out, err := podForCache(p)
	if err != nil {
		t.Fatal(err)
	}
	c := out.(*corev1.Pod)
	if c.Name != "api-blue-1" || c.Labels["ragdeploy.io/color"] != "blue" || c.DeletionTimestamp == nil || c.Status.Phase != corev1.PodRunning {
		t.Fatalf("cached pod lost what observe reads: %+v", c)
	}
	c.DeletionTimestamp = nil
	if !objects.PodReady(c) {
		t.Fatalf("cached pod lost its readiness: %+v", c.Status)
	}
	if len(c.Spec.Containers) != 0 || len(c.Status.ContainerStatuses) != 0 || len(c.ManagedFields) != 0 {
		t.Fatalf("cached pod keeps its spec, container statuses or managedFields: %+v", c)
	}
}
