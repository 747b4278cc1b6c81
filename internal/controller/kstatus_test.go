package controller_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// argoHealth runs the Argo CD health check we ship on the rollout as the API
// server serves it, the way Argo CD runs one (gopher-lua, the object as the
// global obj), and returns its status and message.
func (s *scenario) argoHealth() (string, string) {
	s.t.Helper()
	script, err := os.ReadFile("../../examples/gitops/argocd/health.lua")
	if err != nil {
		s.t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, u); err != nil {
		s.t.Fatal(err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer l.Close()
	l.SetGlobal("obj", toLua(l, u.Object))
	if err := l.DoString(string(script)); err != nil {
		s.t.Fatalf("health.lua: %v", err)
	}
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		s.t.Fatalf("health.lua returned %v; want a table", l.Get(-1))
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

// toLua converts a decoded JSON value to Lua values, as Argo CD hands an
// object to a health check.
func toLua(l *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case map[string]any:
		tbl := l.NewTable()
		for k, e := range t {
			tbl.RawSetString(k, toLua(l, e))
		}
		return tbl
	case []any:
		tbl := l.NewTable()
		for _, e := range t {
			tbl.Append(toLua(l, e))
		}
		return tbl
	case string:
		return lua.LString(t)
	case bool:
		return lua.LBool(t)
	case int64:
		return lua.LNumber(t)
	case float64:
		return lua.LNumber(t)
	}
	return lua.LNil
}

// The argocd-cm snippet installs health.lua verbatim.
func TestArgoCDSnippetHoldsTheHealthCheck(t *testing.T) {
	script, err := os.ReadFile("../../examples/gitops/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../examples/gitops/argocd/argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["resource.customizations.health.ragdeploy.io_Rollout"]; got != string(script) {
		t.Fatalf("argocd-cm.yaml's script differs from health.lua:\n%s", got)
	}
}

// kstatus is the verdict kstatus (what Flux and Helm's waits use) gives
// the rollout as the API server serves it.
func (s *scenario) kstatus() *status.Result {
	s.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, u); err != nil {
		s.t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// A real rollout judged by kstatus and by the Argo CD health check we ship:
// InProgress/Progressing before any controller has seen it (the CRD's
// status default) and while it moves, Current/Healthy when it serves,
// Current/Suspended when paused for promotion (with no Ready condition, so
// `kubectl wait --for=condition=Ready` waits on), Failed/Degraded once
// aborted and when its spec is invalid.
func TestKstatusFollowsARealRollout(t *testing.T) {
	s := newScenario(t)
	s.stopController()
	v1 := s.create(s.rollout("agentic-rag/api:1.0.0", func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil }))
	if res := s.kstatus(); res.Status != status.InProgressStatus {
		t.Fatalf("a rollout no controller has seen: kstatus %s (%s); want InProgress", res.Status, res.Message)
	}
	s.wantArgoHealth("unobserved", "Progressing")
	s.startController()
	s.healthyOn(v1, 30*time.Second)
	if res, b := s.kstatus(), s.get(); res.Status != status.CurrentStatus || !meta.IsStatusConditionTrue(b.Status.Conditions, v1alpha1.ConditionReady) {
		t.Fatalf("healthy: kstatus %s (%s), conditions %+v; want Current and Ready", res.Status, res.Message, b.Status.Conditions)
	}
	s.wantArgoHealth("healthy", "Healthy")

	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	if res := s.kstatus(); res.Status != status.InProgressStatus {
		t.Fatalf("new template just written: kstatus %s (%s); want InProgress", res.Status, res.Message)
	}
	s.wantArgoHealth("new template", "Progressing")
	b := s.waitFor("paused", 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhasePaused && b.Status.CurrentRevision == v2
	})
	if res := s.kstatus(); res.Status != status.CurrentStatus || meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady) != nil ||
		meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReconciling).Reason != v1alpha1.ReasonAwaitingPromotion {
		t.Fatalf("paused for promotion: kstatus %s (%s), conditions %+v; want Current, no Ready, Reconciling False (AwaitingPromotion)", res.Status, res.Message, b.Status.Conditions)
	}
	s.wantArgoHealth("paused", "Suspended")

	s.patchStatus(bluegreen.AbortPatch(v2, "aborted from the test"))
	b = s.waitFor("aborted", 20*time.Second, func(b *v1alpha1.Rollout) bool { return b.Status.Phase == v1alpha1.PhaseAborted })
	if res := s.kstatus(); res.Status != status.FailedStatus || !meta.IsStatusConditionTrue(b.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Fatalf("aborted: kstatus %s (%s), conditions %+v; want Failed and Stalled", res.Status, res.Message, b.Status.Conditions)
	}
	s.wantArgoHealth("aborted", "Degraded")

	// A spec the controller refuses (the color label is its own).
	s.update(func(b *v1alpha1.Rollout) { b.Spec.Template.Labels[bluegreen.LabelColor] = "blue" })
	b = s.waitFor("invalid", 20*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.ObservedGeneration == b.Generation && bluegreen.FailureReason(b) == v1alpha1.ReasonInvalidSpec
	})
	if res := s.kstatus(); res.Status != status.FailedStatus {
		t.Fatalf("invalid spec: kstatus %s (%s), conditions %+v; want Failed", res.Status, res.Message, b.Status.Conditions)
	}
	s.wantArgoHealth("invalid", "Degraded")
}

// wantArgoHealth fails the test unless the Argo CD health check says want.
func (s *scenario) wantArgoHealth(when, want string) {
	s.t.Helper()
	if got, msg := s.argoHealth(); got != want {
		s.t.Fatalf("%s: Argo CD health %s (%s); want %s", when, got, msg, want)
	}
}

// pollUntil follows the rollout through cli-utils' status poller, the engine
// of Flux's health checks, until it reports final, and returns every status
// change it reported, in order, with the rollout it judged last.
func (s *scenario) pollUntil(final status.Status, timeout time.Duration) ([]status.Status, *unstructured.Unstructured) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), timeout)
	defer cancel()
	poller := polling.NewStatusPoller(s.c, s.c.RESTMapper(), polling.Options{})
	id := object.ObjMetadata{Namespace: s.env.Namespace, Name: s.name, GroupKind: v1alpha1.GroupVersion.WithKind("Rollout").GroupKind()}
	var seen []status.Status
	for e := range poller.Poll(ctx, object.ObjMetadataSet{id}, polling.PollOptions{PollInterval: 100 * time.Millisecond}) {
		switch e.Type {
		case event.ErrorEvent:
			s.t.Fatalf("status poller: %v", e.Error)
		case event.ResourceUpdateEvent:
			st := e.Resource.Status
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if st == final {
				return seen, e.Resource.Resource
			}
		}
	}
	s.t.Fatalf("the status poller reported %v and not %s within %s", seen, final, timeout)
	return nil, nil
}

// Flux's view of a rollout it has just applied: InProgress until the new
// version serves, then Current; for a version that never becomes ready,
// InProgress until the progress deadline aborts it, then Failed, and never
// Current in between (a Flux Kustomization would turn Ready on a broken
// release).
func TestFluxPollerFollowsARollout(t *testing.T) {
	s, _ := deployed(t, func(b *v1alpha1.Rollout) { b.Spec.ProgressDeadlineSeconds = new(int32(4)) })

	v2 := s.setImage("agentic-rag/api:2.0.0", nil)
	seen, last := s.pollUntil(status.CurrentStatus, 30*time.Second)
	t.Logf("good version: %v", seen)
	if seen[0] != status.InProgressStatus {
		t.Errorf("good version: the poller reported %v; want InProgress first", seen)
	}
	if stable, _, _ := unstructured.NestedString(last.Object, "status", "stableRevision"); stable != v2 {
		t.Errorf("good version: Current with stable revision %q; want %s", stable, v2)
	}

	v3 := s.setImage("agentic-rag/api:3.0.0-broken", map[string]string{localcluster.AnnotationNeverReady: "true"})
	seen, last = s.pollUntil(status.FailedStatus, 30*time.Second)
	t.Logf("broken version: %v", seen)
	if seen[0] != status.InProgressStatus || slices.Contains(seen, status.CurrentStatus) {
		t.Errorf("broken version: the poller reported %v; want InProgress, then Failed, never Current", seen)
	}
	if current, _, _ := unstructured.NestedString(last.Object, "status", "currentRevision"); current != v3 {
		t.Errorf("broken version: Failed on revision %q; want %s", current, v3)
	}
}
