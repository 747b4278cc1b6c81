package release_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/release/releasetest"
)

// rejectRealWrites installs a ValidatingAdmissionPolicy that refuses real
// (not dry-run) creates and updates of resource objects whose name ends in
// suffix, in the given namespaces: a failure that only the real apply meets,
// as a quota or a webhook would cause. It returns once the policy is in
// force (a probe in the first namespace is refused).
func rejectRealWrites(t *testing.T, p *platform, group, version, resource, suffix string, namespaces ...string) {
	t.Helper()
	name := "reject-" + resource + "-" + p.env.Namespace
	// Services named probe<suffix> are refused too: the probe below shows
	// the policy is in force.
	expr := "request.dryRun == true || !object.metadata.name.endsWith('" + suffix + "')"
	if resource != "services" {
		expr += " || (request.resource.resource == 'services' && object.metadata.name != 'probe" + suffix + "')"
	}
	rule := func(group, version, resource string) admissionv1.NamedRuleWithOperations {
		return admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: []string{resource}},
		}}
	}
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: namespaces,
				}}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{rule(group, version, resource), rule("", "v1", "services")},
			},
			Validations: []admissionv1.Validation{{
				Expression: expr,
				Message:    "refused by test policy " + name,
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := p.c.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.c.Delete(context.Background(), o) })
	}
	clustertest.Eventually(t, 30*time.Second, "the test policy in force", func(ctx context.Context) (bool, error) {
		probe := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "probe" + suffix, Namespace: namespaces[0]},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
		}
		err := p.c.Create(ctx, probe)
		if err == nil || apierrors.IsAlreadyExists(err) {
			// Not in force yet: the probe went through.
			return false, p.c.Delete(ctx, probe)
		}
		return strings.Contains(err.Error(), "refused by test policy"), err
	})
}

// assertNothingLeft: the namespace holds nothing of the release.
func assertNothingLeft(t *testing.T, p *platform, ns string) {
	t.Helper()
	var svcs corev1.ServiceList
	var deps appsv1.DeploymentList
	var pvcs corev1.PersistentVolumeClaimList
	for _, l := range []client.ObjectList{&svcs, &deps, &pvcs} {
		if err := p.c.List(t.Context(), l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(svcs.Items)+len(deps.Items)+len(pvcs.Items) != 0 {
		t.Fatalf("left behind: %d Services, %d Deployments, %d claims", len(svcs.Items), len(deps.Items), len(pvcs.Items))
	}
	assertEmptyNamespace(t, p.c, p.target)
}

func TestFailedFirstInstallLeavesNothing(t *testing.T) {
	t.Run("namespace it creates", func(t *testing.T) {
		p := newPlatform(t, "development")
		fresh := p.target.Namespace + "-new"
		p.e.Release.Namespace, p.target.Namespace = fresh, fresh
		p.release = releasetest.Manager(t, p.target)
		rejectRealWrites(t, p, "", "v1", "services", "-redis", p.env.Namespace, fresh)
		_, err := p.release.Upgrade(t.Context(), p.plan(t), release.Options{Timeout: time.Minute})
		if err == nil || !strings.Contains(err.Error(), "refused by test policy") || !strings.Contains(err.Error(), "deleted namespace "+fresh) {
			t.Fatalf("install: %v; want the refusal and the namespace removed", err)
		}
		if err := p.c.Get(t.Context(), types.NamespacedName{Name: fresh}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
			t.Fatalf("namespace %s still there (err %v)", fresh, err)
		}
	})
	t.Run("existing namespace", func(t *testing.T) {
		p := newPlatform(t, "development")
		rejectRealWrites(t, p, "", "v1", "services", "-redis", p.env.Namespace)
		_, err := p.release.Upgrade(t.Context(), p.plan(t), release.Options{Timeout: time.Minute})
		if err == nil || !strings.Contains(err.Error(), "refused by test policy") || !strings.Contains(err.Error(), "rolled back: uninstalled the failed release") {
			t.Fatalf("install: %v; want the refusal and the release removed", err)
		}
		if strings.Contains(err.Error(), "rollback incomplete") {
			t.Fatal(err)
		}
		assertNothingLeft(t, p, p.target.Namespace)
	})
}

func TestFailedUpgradeRestoresThePreviousRevision(t *testing.T) {
	p := newPlatform(t, "development")
	p.deploy(t)
	p.assertReady(t)
	ctx, ns := t.Context(), p.target.Namespace
	before, err := p.release.Deployed()
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &cm); err != nil {
		t.Fatal(err)
	}
	var secretBefore corev1.Secret
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-redis"}, &secretBefore); err != nil {
		t.Fatal(err)
	}
	// The upgrade adds an HPA (refused for real), changes a config value and
	// a Secret; all of it must be as before afterwards.
	rejectRealWrites(t, p, "autoscaling", "v2", "horizontalpodautoscalers", "-api", ns)
	original, key := p.e.Secrets.File, os.Getenv("SOPS_AGE_KEY_FILE")
	p.e.Secrets.File = encryptedSecretsWith(t, map[string]string{"agentic-rag-redis": "redis-Changed-Value-0b1d"})
	_, err = p.release.Upgrade(ctx, p.plan(t, "api.autoscaling.enabled=true", "api.autoscaling.minReplicas=1", "api.config.LOG_LEVEL=trace"),
		release.Options{Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "refused by test policy") || !strings.Contains(err.Error(), "of revision 1, which stays the deployed one") {
		t.Fatalf("upgrade: %v; want the refusal and revision 1 restored", err)
	}
	if strings.Contains(err.Error(), "rollback incomplete") {
		t.Fatal(err)
	}
	after, err := p.release.Deployed()
	if err != nil || after.Number != before.Number {
		t.Fatalf("deployed revision %d (err %v); want revision %d", after.Number, err, before.Number)
	}
	// The failed revision is the newest record; drift and diff compare with
	// the deployed one before it.
	hist, err := p.release.History()
	if err != nil || len(hist) != 2 || hist[1].Status != "failed" {
		t.Fatalf("history %+v (err %v); want revision 2 recorded as failed", hist, err)
	}
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	if err := p.c.List(ctx, &hpas, client.InNamespace(ns)); err != nil || len(hpas.Items) != 0 {
		t.Fatalf("%d HPAs after the failed upgrade (err %v)", len(hpas.Items), err)
	}
	var cmAfter corev1.ConfigMap
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-api"}, &cmAfter); err != nil || cmAfter.Data["LOG_LEVEL"] != cm.Data["LOG_LEVEL"] {
		t.Fatalf("config LOG_LEVEL %q after the failed upgrade; want %q", cmAfter.Data["LOG_LEVEL"], cm.Data["LOG_LEVEL"])
	}
	var secretAfter corev1.Secret
	if err := p.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "agentic-rag-redis"}, &secretAfter); err != nil || string(secretAfter.Data["password"]) != string(secretBefore.Data["password"]) {
		t.Fatalf("the redis Secret was not restored (err %v)", err)
	}
	p.e.Secrets.File = original
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	report, err := p.release.Drift(ctx, p.plan(t))
	if err != nil || !report.Clean() {
		t.Fatalf("drift after the rollback: %+v (err %v)", report, err)
	}
}

// What the API server refuses is found by the dry run of every object
// before the first write: with --dry-run=server and with a real install
// alike, and nothing is written.
func TestServerRejectionFoundBeforeAnyWrite(t *testing.T) {
	for _, dryRun := range []bool{true, false} {
		t.Run(map[bool]string{true: "dry-run", false: "install"}[dryRun], func(t *testing.T) {
			p := newPlatform(t, "development")
			// The schema and policy accept any annotation key; the API server does not.
			plan := p.plan(t, "api.podAnnotations.not a key=yes")
			_, err := p.release.Upgrade(t.Context(), plan, release.Options{DryRun: dryRun, Timeout: time.Minute})
			if err == nil || !strings.Contains(err.Error(), "Deployment "+p.target.Namespace+"/agentic-rag-api: server-side dry-run apply") {
				t.Fatalf("upgrade: %v; want the Deployment's dry-run refusal", err)
			}
			assertNothingLeft(t, p, p.target.Namespace)
		})
	}
}
