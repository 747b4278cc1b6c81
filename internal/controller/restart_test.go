package controller_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// progressingReason is the reason of the Progressing condition.
func progressingReason(b *v1alpha1.Rollout) string {
	if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionProgressing); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason
	}
	return ""
}

// atStep: a canary or rolling update at step, progressing for one of
// reasons.
func atStep(step int32, reasons ...string) func(*v1alpha1.Rollout) bool {
	return func(b *v1alpha1.Rollout) bool {
		p := bluegreen.StepsProgress(b)
		return p != nil && p.Step == step && slices.Contains(reasons, progressingReason(b))
	}
}

// A rollout with every stage: pre-deploy Job, slow start, pre-promotion
// analysis, manual promotion, post-promotion analysis, warm old color.
func fullRollout(h *healthServer) func(*v1alpha1.Rollout) {
	return func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.AutoPromotion = nil
		b.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(4))
		b.Spec.PreDeployJob = &v1alpha1.PreDeployJob{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{localcluster.AnnotationReadyAfter: "3s"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "migrate", Image: "agentic-rag/api:1.0.0"}}},
		}}}
		b.Spec.Strategy.BlueGreen.PrePromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("smoke", h.URL, 3, 0)}
		b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{httpCheck("errors", h.URL, 3, 0)}
	}
}

func TestControllerRestartAtEveryPhase(t *testing.T) {
	h := newHealthServer(t)
	s, v1 := deployed(t, fullRollout(h))
	v2 := s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "2s"})
	phases := []struct {
		name string
		at   func(*v1alpha1.Rollout) bool
	}{
		{"pre-deploy Job running", func(b *v1alpha1.Rollout) bool {
			return progressingReason(b) == v1alpha1.ReasonPreDeployJobRunning
		}},
		{"new color scaling up", func(b *v1alpha1.Rollout) bool {
			r := progressingReason(b)
			return r == v1alpha1.ReasonScalingUp || r == v1alpha1.ReasonWaitingForEndpoints
		}},
		{"pre-promotion analysis", func(b *v1alpha1.Rollout) bool {
			return progressingReason(b) == v1alpha1.ReasonAnalysisRunning
		}},
		{"awaiting promotion", func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused }},
		{"post-promotion analysis", func(b *v1alpha1.Rollout) bool {
			return progressingReason(b) == v1alpha1.ReasonPostPromotionAnalysis
		}},
		{"stable, old color warm", func(b *v1alpha1.Rollout) bool {
			return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == v2 && s.replicas(v1alpha1.Blue) == 3
		}},
	}
	for _, ph := range phases {
		s.waitFor(ph.name, 30*time.Second, ph.at)
		// stopController returns once the manager has returned: from then
		// until startController nothing of ours runs, so what is checked is
		// that the next controller resumes from what is on the API server.
		s.stopController()
		s.startController()
		if ph.name == "awaiting promotion" {
			s.patchStatus(bluegreen.PromotePatch(v2))
		}
	}
	got := s.healthyOn(v2, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Green || got.Status.History[1].Revision != v1 {
		t.Fatalf("ended on %s with history %+v; want green, v1 before v2", got.Status.StableColor, got.Status.History)
	}
	s.waitFor("blue scaled down after the restarts", 30*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Blue) == 0 })
	for _, a := range got.Status.Analysis {
		if a.Result != v1alpha1.AnalysisSuccessful || a.Successes != 3 {
			t.Errorf("check %s/%s: %s with %d successes; want exactly 3 successes, none lost or doubled by restarts", a.Stage, a.Name, a.Result, a.Successes)
		}
	}
	if h.status.Load() != http.StatusOK {
		t.Fatal("health server changed")
	}
}

func TestLeaderHandoverMidRollout(t *testing.T) {
	s := newScenario(t)
	s.stopController() // replaced by two leader-elected replicas below
	start := func() (context.CancelFunc, chan struct{}) {
		mgr, err := controller.New(s.env.Config, controller.Options{
			MetricsAddr: "0", ProbeAddr: "0", Namespace: s.env.Namespace, MultipleInProcess: true,
			LeaderElection: true, LeaderElectionNamespace: s.env.Namespace, LeaseDuration: 3 * time.Second,
			KeepLeaseOnStop: true, // a crash: the lease must expire before the other takes over
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = mgr.Start(ctx) }()
		return cancel, done
	}
	stopA, doneA := start()
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil }))
	s.healthyOn(v1, 30*time.Second)
	stopB, doneB := start()
	t.Cleanup(func() { stopB(); <-doneB })
	s.watchInvariants()

	lease, err := s.env.Client.CoordinationV1().Leases(s.env.Namespace).Get(t.Context(), "ragdeploy-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leader := *lease.Spec.HolderIdentity
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused", 30*time.Second, func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused })
	stopA() // the first replica is the leader: it started first
	<-doneA
	s.patchStatus(bluegreen.PromotePatch(v2))
	s.healthyOn(v2, 30*time.Second)
	clustertest.Eventually(t, 10*time.Second, "lease held by the other replica", func(ctx context.Context) (bool, error) {
		var l *coordinationv1.Lease
		l, err = s.env.Client.CoordinationV1().Leases(s.env.Namespace).Get(ctx, "ragdeploy-controller", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != leader, err
	})
}
