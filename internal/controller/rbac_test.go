package controller_test

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

// The controller chart's RBAC, applied to a real API server, lets the
// controller do its work and nothing else: SubjectAccessReviews as its
// ServiceAccount.
// installRBAC creates the controller chart's ServiceAccount and RBAC objects
// rendered with values, cluster-scoped ones renamed after the namespace.
func installRBAC(t *testing.T, env *clustertest.Env, values map[string]any) {
	t.Helper()
	ctx := t.Context()
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(ctx, c, render.Release{Name: "ragdeploy", Namespace: env.Namespace}, values)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
				// Cluster-scoped: named after the test so runs do not clash.
				suffix := "-" + env.Namespace
				o.SetName(o.GetName() + suffix)
				if o.GetKind() == "ClusterRoleBinding" {
					ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
					if err := unstructured.SetNestedField(o.Object, ref+suffix, "roleRef", "name"); err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() { _ = cl.Delete(context.Background(), o.Unstructured) })
			}
			if err := cl.Create(ctx, o.Unstructured); err != nil {
				t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// accessCase is one SubjectAccessReview of the controller's ServiceAccount.
type accessCase struct {
	// attrs is what the controller would do.
	ns, group, resource, subresource, verb string
	// allowed is the expected answer.
	allowed bool
}

func checkAccess(t *testing.T, env *clustertest.Env, tests []accessCase) {
	t.Helper()
	user := "system:serviceaccount:" + env.Namespace + ":ragdeploy"
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + env.Namespace, "system:authenticated"}
	for _, tt := range tests {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tt.ns, Group: tt.group, Resource: tt.resource, Subresource: tt.subresource, Verb: tt.verb,
			},
		}}
		got, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tt.allowed {
			t.Errorf("%s %s.%s/%s in %q: allowed=%t, want %t (%s)", tt.verb, tt.resource, tt.group, tt.subresource, tt.ns, got.Status.Allowed, tt.allowed, got.Status.Reason)
		}
	}
}

func TestControllerRBACIsLeastPrivilege(t *testing.T) {
	env := clustertest.New(t)
	other := clustertest.New(t)
	installRBAC(t, env, nil)
	checkAccess(t, env, []accessCase{
		{other.Namespace, "ragdeploy.io", "rollouts", "", "watch", true},
		{other.Namespace, "ragdeploy.io", "rollouts", "status", "update", true},
		{other.Namespace, "ragdeploy.io", "rollouts", "", "update", false},
		{other.Namespace, "apps", "deployments", "", "patch", true},
		{other.Namespace, "", "services", "", "patch", true},
		{other.Namespace, "", "services", "", "delete", false},
		{other.Namespace, "discovery.k8s.io", "endpointslices", "", "list", true},
		{other.Namespace, "gateway.networking.k8s.io", "httproutes", "", "update", true},
		{other.Namespace, "gateway.networking.k8s.io", "httproutes", "", "delete", false},
		{other.Namespace, "gateway.networking.k8s.io", "gateways", "", "update", false},
		{other.Namespace, "batch", "jobs", "", "create", true},
		{other.Namespace, "", "secrets", "", "get", false},
		{other.Namespace, "", "secrets", "", "list", false},
		{"", "", "secrets", "", "list", false},
		{env.Namespace, "", "secrets", "", "get", false},
		{other.Namespace, "", "configmaps", "", "get", false},
		{other.Namespace, "", "pods", "", "delete", false},
		{env.Namespace, "coordination.k8s.io", "leases", "", "update", true},
		{other.Namespace, "coordination.k8s.io", "leases", "", "update", false},
		{"", "rbac.authorization.k8s.io", "clusterroles", "", "escalate", false},
	})
}

func TestDriftOptInGrantsSecretsOnlyInListedNamespaces(t *testing.T) {
	env := clustertest.New(t)
	watched := clustertest.New(t)
	other := clustertest.New(t)
	installRBAC(t, env, map[string]any{"drift": map[string]any{"releases": []any{watched.Namespace + "/agentic-rag"}}})
	checkAccess(t, env, []accessCase{
		{watched.Namespace, "", "secrets", "", "list", true},
		{watched.Namespace, "", "configmaps", "", "patch", true},
		{watched.Namespace, "ragdeploy.io", "rollouts", "", "patch", true},
		{watched.Namespace, "", "secrets", "", "delete", false},
		{other.Namespace, "", "secrets", "", "get", false},
		{"", "", "secrets", "", "list", false},
		{env.Namespace, "", "secrets", "", "get", false},
	})
}
