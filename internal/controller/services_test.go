package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// degradedBy reports whether b is Degraded for reason with a message
// containing want, for its current generation.
func degradedBy(b *v1alpha1.Rollout, reason, want string) bool {
	c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionDegraded)
	return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseDegraded &&
		c != nil && c.Reason == reason && strings.Contains(c.Message, want)
}

func (s *scenario) service(name string) *corev1.Service {
	s.t.Helper()
	var svc corev1.Service
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: name}, &svc); err != nil {
		s.t.Fatal(err)
	}
	return &svc
}

// Two rollouts naming one active Service: the first claims it, the second
// never writes it and says who owns it; once the first is deleted the
// second takes the Service over.
func TestTwoRolloutsNeverFightOverAService(t *testing.T) {
	s := newScenario(t)
	s.healthyOn(s.create(s.rollout("agentic-rag/api:1.0.0", nil)), 30*time.Second)
	invariants := s.watchInvariants()
	first := s.get()
	svc := s.service("api")
	if svc.Annotations[bluegreen.AnnotationClaimUID] != string(first.UID) || svc.Annotations[bluegreen.AnnotationClaimedBy] != "api" {
		t.Fatalf("active Service annotations %v; want the claim of api (%s)", svc.Annotations, first.UID)
	}
	before := svc.ResourceVersion

	second := s.rollout("agentic-rag/other:1.0.0", func(b *v1alpha1.Rollout) {
		b.Name = "other"
		b.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
		b.Spec.Template.Labels = map[string]string{"app": "other"}
		b.Spec.PreviewService = ""
	})
	if err := s.c.Create(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	other := func() *v1alpha1.Rollout {
		var b v1alpha1.Rollout
		if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(second), &b); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	waitOther := func(what string, cond func(*v1alpha1.Rollout) bool) {
		t.Helper()
		clustertest.Eventually(t, 30*time.Second, what, func(context.Context) (bool, error) {
			if b := other(); !cond(b) {
				return false, fmt.Errorf("status %+v", b.Status)
			}
			return true, nil
		})
	}
	conflict := func(b *v1alpha1.Rollout) bool {
		return degradedBy(b, v1alpha1.ReasonServiceConflict, "active Service api belongs to Rollout api")
	}
	waitOther("the second rollout reports the conflict", conflict)
	// The second rollout is changed and promoted: it still leaves the Service alone.
	b := other()
	b.Spec.Template.Spec.Containers[0].Image = "agentic-rag/other:2.0.0"
	if err := s.c.Update(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Status().Patch(t.Context(), b, client.RawPatch(types.MergePatchType, bluegreen.PromotePatch(bluegreen.TemplateRevision(&b.Spec.Template)))); err != nil {
		t.Fatal(err)
	}
	waitOther("the changed second rollout observed, still in conflict", conflict)
	if rv := s.service("api").ResourceVersion; rv != before {
		t.Fatalf("the active Service was written (resourceVersion %s -> %s) while one rollout owns it", before, rv)
	}
	if got := s.get(); got.Status.Phase != v1alpha1.PhaseHealthy || s.serviceColor("api") != got.Status.ActiveColor {
		t.Fatalf("the owner is %s on %s; want Healthy and still selected", got.Status.Phase, got.Status.ActiveColor)
	}
	if sel := s.service("api").Spec.Selector["app"]; sel != "api" {
		t.Fatalf("active Service selects app=%s; want the owner's pods", sel)
	}

	// The owner goes (and its traffic with it, so the watcher stops here):
	// its claim binds nobody, the second rollout takes over.
	invariants.check(s)
	if err := s.c.Delete(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	waitOther("the second rollout healthy on the freed Service", func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.ObservedGeneration == b.Generation
	})
	// The status is written before the Service (so a switch is never made
	// without its record): the claim follows the Healthy status.
	clustertest.Eventually(t, 30*time.Second, "the freed Service claimed by the second rollout", func(context.Context) (bool, error) {
		svc = s.service("api")
		return svc.Annotations[bluegreen.AnnotationClaimUID] == string(second.UID) && svc.Spec.Selector["app"] == "other", nil
	})
}

// Once healthy, reconciles write no Service: a steady rollout leaves the
// Services' resourceVersions alone.
func TestSteadyStateWritesNoService(t *testing.T) {
	s, _ := deployed(t, nil)
	active, preview := s.service("api").ResourceVersion, s.service("api-preview").ResourceVersion
	// A spec change that keeps the template (a longer history) is reconciled
	// without touching the Services.
	s.update(func(b *v1alpha1.Rollout) { b.Spec.RevisionHistoryLimit = new(int32(5)) })
	s.waitFor("generation observed", 20*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseHealthy
	})
	if a, p := s.service("api").ResourceVersion, s.service("api-preview").ResourceVersion; a != active || p != preview {
		t.Fatalf("Services written in a steady state: active %s -> %s, preview %s -> %s", active, a, preview, p)
	}
}

// One Service for both roles is rejected by the API server (CEL).
func TestPreviewServiceEqualToActiveRejectedAtAdmission(t *testing.T) {
	s := newScenario(t)
	err := s.c.Create(t.Context(), s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) { b.Spec.PreviewService = "api" }))
	if err == nil || !strings.Contains(err.Error(), "previewService must differ from activeService") {
		t.Fatalf("create with previewService == activeService: %v; want the CEL rule's message", err)
	}
}

// A missing active Service is Degraded (ServiceMissing, terminal for
// `rollout status`), nothing switches; the Service appearing resumes it.
func TestMissingActiveServiceIsReported(t *testing.T) {
	s := newScenario(t)
	if err := s.env.Client.CoreV1().Services(s.env.Namespace).Delete(t.Context(), "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rev := s.create(s.rollout("agentic-rag/api:1.0.0", nil))
	got := s.waitFor("Degraded: ServiceMissing", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return degradedBy(b, v1alpha1.ReasonServiceMissing, "active Service api not found")
	})
	if st := bluegreen.StateOf(got); st != bluegreen.StateFailed {
		t.Fatalf("state %s; want %s (terminal)", st, bluegreen.StateFailed)
	}
	if got.Status.StableColor != "" || s.replicas(v1alpha1.Blue) != -1 {
		t.Fatalf("stable %q, blue replicas %d without an active Service; want nothing done", got.Status.StableColor, s.replicas(v1alpha1.Blue))
	}
	events, err := s.env.Client.EventsV1().Events(s.env.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, e := range events.Items {
		warned = warned || (e.Reason == v1alpha1.ReasonServiceMissing && e.Type == corev1.EventTypeWarning)
	}
	if !warned {
		t.Fatal("no ServiceMissing Warning event")
	}
	if err := s.c.Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: s.env.Namespace},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
	}); err != nil {
		t.Fatal(err)
	}
	s.healthyOn(rev, 30*time.Second)
}
