package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// kstatus is the verdict kstatus (what Flux and Helm's waits use) gives
// the rollout as the API server serves it.
func (s *scenario) kstatus() *status.Result {
	s.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("BlueGreenDeployment"))
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, u); err != nil {
		s.t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// A real rollout judged by kstatus: InProgress before any controller has
// seen it (the CRD's status default) and while it moves, Current when it
// serves and when it is paused for promotion (with no Ready condition, so
// `kubectl wait --for=condition=Ready` waits on), Failed once aborted.
func TestKstatusFollowsARealRollout(t *testing.T) {
	s := newScenario(t)
	s.stopController()
	v1 := s.create(s.bgd("agentic-rag/api:1.0.0", func(b *v1alpha1.BlueGreenDeployment) { b.Spec.AutoPromotion = nil }))
	if res := s.kstatus(); res.Status != status.InProgressStatus {
		t.Fatalf("a rollout no controller has seen: kstatus %s (%s); want InProgress", res.Status, res.Message)
	}
	s.startController()
	s.healthyOn(v1, 30*time.Second)
	if res, b := s.kstatus(), s.get(); res.Status != status.CurrentStatus || !meta.IsStatusConditionTrue(b.Status.Conditions, v1alpha1.ConditionReady) {
		t.Fatalf("healthy: kstatus %s (%s), conditions %+v; want Current and Ready", res.Status, res.Message, b.Status.Conditions)
	}

	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	if res := s.kstatus(); res.Status != status.InProgressStatus {
		t.Fatalf("new template just written: kstatus %s (%s); want InProgress", res.Status, res.Message)
	}
	b := s.waitFor("paused", 30*time.Second, func(b *v1alpha1.BlueGreenDeployment) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2
	})
	if res := s.kstatus(); res.Status != status.CurrentStatus || meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady) != nil ||
		meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReconciling).Reason != v1alpha1.ReasonAwaitingPromotion {
		t.Fatalf("paused for promotion: kstatus %s (%s), conditions %+v; want Current, no Ready, Reconciling False (AwaitingPromotion)", res.Status, res.Message, b.Status.Conditions)
	}

	s.patchStatus(bluegreen.AbortPatch(v2, "aborted from the test"))
	b = s.waitFor("aborted", 20*time.Second, func(b *v1alpha1.BlueGreenDeployment) bool { return b.Status.Phase == v1alpha1.PhaseAborted })
	if res := s.kstatus(); res.Status != status.FailedStatus || !meta.IsStatusConditionTrue(b.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Fatalf("aborted: kstatus %s (%s), conditions %+v; want Failed and Stalled", res.Status, res.Message, b.Status.Conditions)
	}
}
