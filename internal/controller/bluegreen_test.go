package controller_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func TestHappyPathAutoPromotion(t *testing.T) {
	s := newScenario(t)
	b := s.rollout("agentic-rag/api:1.0.0", nil)
	v1 := s.create(b)
	s.watchInvariants()
	got := s.healthyOn(v1, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Blue || !s.selects("api", v1alpha1.Blue) || !s.selects("api-preview", v1alpha1.Blue) {
		t.Fatalf("first revision on %s, services %s/%s; want all on blue", got.Status.StableColor, s.serviceColor("api"), s.serviceColor("api-preview"))
	}

	v2 := s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "1s"})
	got = s.healthyOn(v2, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Green || !s.selects("api", v1alpha1.Green) {
		t.Fatalf("v2 on %s, active Service on %s; want green", got.Status.StableColor, s.serviceColor("api"))
	}
	// Blue stays warm for the scale-down delay, then goes to zero.
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("blue has %d replicas right after the switch; want 3 (kept warm)", r)
	}
	s.waitFor("blue scaled down", 20*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Blue) == 0 })
	if got.Status.History[0].Revision != v2 || got.Status.History[1].Revision != v1 {
		t.Fatalf("history %+v; want v2 then v1", got.Status.History)
	}
	// The metrics say so too.
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case f.GetName() == "ragdeploy_rollout_switch_seconds":
				seen[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
			case f.GetName() == "ragdeploy_rollout_phase" && labelValue(m.GetLabel(), "namespace") == s.env.Namespace && labelValue(m.GetLabel(), "phase") == "Healthy":
				seen[f.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	if seen["ragdeploy_rollout_switch_seconds"] < 2 || seen["ragdeploy_rollout_phase"] != 1 {
		t.Fatalf("metrics %v; want at least 2 switches observed and phase Healthy = 1", seen)
	}
}

func labelValue(labels []*dto.LabelPair, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// deployed creates a Rollout of image v1 (mutated) and waits
// until it is healthy on blue; the invariant watcher runs from then on.
func deployed(t *testing.T, mutate func(*v1alpha1.Rollout)) (*scenario, string) {
	t.Helper()
	s := newScenario(t)
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", mutate))
	s.healthyOn(v1, 30*time.Second)
	s.watchInvariants()
	return s, v1
}

func TestManualPromotion(t *testing.T) {
	s, _ := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil })
	// The active Service does not move from the new revision's start until
	// the promotion: every change the API server records is seen.
	moved := s.moves("api")
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused awaiting promotion", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2
	})
	// The preview Service on green is the paused reconcile's last write.
	if !s.selects("api-preview", v1alpha1.Green) {
		t.Fatalf("preview Service on %s; want green (the new revision)", s.serviceColor("api-preview"))
	}
	if m := moved(); len(m) != 0 {
		t.Fatalf("active Service moved to %v before promotion; want it kept on blue", m)
	}
	s.patchStatus(bluegreen.PromotePatch(v2))
	s.healthyOn(v2, 30*time.Second)
	if !s.selects("api", v1alpha1.Green) {
		t.Fatalf("active Service on %s after promote; want green", s.serviceColor("api"))
	}
}

func TestNeverReadyVersionHitsProgressDeadline(t *testing.T) {
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.ProgressDeadlineSeconds = new(int32(4)) })
	v2 := s.setImage("agentic-rag/api:2.0.0-broken", map[string]string{localcluster.AnnotationNeverReady: "true"})
	s.abortedBackOn(v2, v1alpha1.ReasonProgressDeadline, v1)
	// The failed color does not keep running (argo-rollouts #1259).
	s.waitFor("failed color scaled down", 20*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 0 })
}

func TestAbortRetryAndUndo(t *testing.T) {
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.AutoPromotion = nil
		b.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(30))
	})
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused", 30*time.Second, func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused })

	s.patchStatus(bluegreen.AbortPatch(v2, "aborted from the test"))
	aborted := s.waitFor("aborted", 20*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortReason == v1alpha1.ReasonUserAbort
	})
	if h := aborted.Status.History; len(h) == 0 || h[0].Revision != v2 || h[0].Outcome != v1alpha1.OutcomeAborted {
		t.Fatalf("history %+v after a user's abort; want %s Aborted at its head", h, v2)
	}
	if !s.selects("api-preview", v1alpha1.Blue) {
		t.Fatalf("preview Service on %s after abort; want back on blue", s.serviceColor("api-preview"))
	}

	// Retry after abort proceeds (argo-rollouts #841).
	s.patchStatus(bluegreen.RetryPatch(time.Now()))
	s.waitFor("paused again after retry", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.AbortedRevision == ""
	})
	s.patchStatus(bluegreen.PromotePatch(v2))
	s.healthyOn(v2, 30*time.Second)

	// Undo while blue (v1) is still warm: an instant selector flip.
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("blue has %d replicas; want 3 warm within the scale-down delay", r)
	}
	s.setImage("agentic-rag/api:1.0.0", nil)
	got := s.healthyOn(v1, 10*time.Second)
	if got.Status.StableColor != v1alpha1.Blue || !s.selects("api", v1alpha1.Blue) {
		t.Fatalf("undo went to %s; want the warm blue", got.Status.StableColor)
	}
}

func TestPreDeployJobFailureAbortsBeforeScaleUp(t *testing.T) {
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) {
		b.Spec.PreDeployJob = &v1alpha1.PreDeployJob{Spec: batchv1.JobSpec{
			BackoffLimit: new(int32(0)),
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "migrate", Image: "agentic-rag/api:1.0.0"}}},
			},
		}}
	})
	s.update(func(b *v1alpha1.Rollout) {
		b.Spec.Template.Spec.Containers[0].Image = "agentic-rag/api:2.0.0"
		b.Spec.PreDeployJob.Spec.Template.Annotations = map[string]string{localcluster.AnnotationFail: "true"}
	})
	v2 := bluegreen.TemplateRevision(&s.get().Spec.Template)
	got := s.waitFor("aborted by the failed pre-deploy Job", 60*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortReason == v1alpha1.ReasonPreDeployJobFailed
	})
	if got.Status.AbortedRevision != v2 || got.Status.StableRevision != v1 {
		t.Fatalf("aborted %s stable %s; want %s aborted, %s stable", got.Status.AbortedRevision, got.Status.StableRevision, v2, v1)
	}
	// Green was never scaled up with the new revision.
	d, err := s.env.Client.AppsV1().Deployments(s.env.Namespace).Get(t.Context(), bluegreen.DeploymentName(s.name, v1alpha1.Green), metav1.GetOptions{})
	if err == nil && d.Annotations[bluegreen.AnnotationRevision] == v2 {
		t.Fatalf("green runs %s although its pre-deploy Job failed", v2)
	}
}

func TestTemplateChangedMidRollout(t *testing.T) {
	s, _ := deployed(t, nil)
	s.setImage("agentic-rag/api:2.0.0", map[string]string{localcluster.AnnotationReadyAfter: "30s"})
	s.waitFor("v2 scaling up", 20*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseProgressing && b.Status.Green.Replicas == 3
	})
	v3 := s.setImage("agentic-rag/api:3.0.0", nil)
	got := s.healthyOn(v3, 30*time.Second)
	if got.Status.StableColor != v1alpha1.Green {
		t.Fatalf("v3 on %s; want green (the idle color)", got.Status.StableColor)
	}
}

func TestReplicaChangeNeverShrinksLiveColor(t *testing.T) {
	s, _ := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil })
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused", 30*time.Second, func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused })
	s.update(func(b *v1alpha1.Rollout) { b.Spec.Replicas = new(int32(1)) })
	s.waitFor("green resized to 1", 20*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 1 })
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("live blue has %d replicas after a replica change mid-rollout; want 3 (argo-rollouts #4552)", r)
	}
	s.patchStatus(bluegreen.PromotePatch(v2))
	s.healthyOn(v2, 30*time.Second)
}
