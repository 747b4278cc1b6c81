package controller_test

import (
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// A crash-looping version never gets traffic, and the active selector is
// never emptied or pointed at it (argo-rollouts #4750).
func TestCrashLoopingVersionNeverServes(t *testing.T) {
	s, v1 := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.ProgressDeadlineSeconds = new(int32(5)) })
	v2 := s.setImage("agentic-rag/api:2.0.0-crash", map[string]string{localcluster.AnnotationCrash: "true"})
	s.abortedBackOn(v2, v1alpha1.ReasonProgressDeadline, v1)
}

// The scale subresource (what an HPA writes) changes replicas like the spec
// does: mid-rollout it never shrinks the live color.
func TestScaleSubresourceMidRollout(t *testing.T) {
	s, _ := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil })
	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	s.waitFor("paused", 30*time.Second, func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhasePaused })
	scale := &autoscalingv1.Scale{}
	if err := s.c.SubResource("scale").Get(t.Context(), s.get(), scale); err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 3 || !strings.Contains(scale.Status.Selector, "app=api") {
		t.Fatalf("scale subresource %+v; want 3 replicas and the pod selector", scale)
	}
	scale.Spec.Replicas = 2
	if err := s.c.SubResource("scale").Update(t.Context(), s.get(), scaleBody(scale)); err != nil {
		t.Fatal(err)
	}
	s.waitFor("green resized to 2", 20*time.Second, func(*v1alpha1.Rollout) bool { return s.replicas(v1alpha1.Green) == 2 })
	if r := s.replicas(v1alpha1.Blue); r != 3 {
		t.Fatalf("live blue shrank to %d on a scale-down mid-rollout; want 3", r)
	}
	s.patchStatus(bluegreen.PromotePatch(v2))
	got := s.healthyOn(v2, 30*time.Second)
	if got.Status.Replicas != 2 {
		t.Fatalf("status.replicas %d after promotion; want 2", got.Status.Replicas)
	}
}
