package drift_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// parse parses YAML documents into the namespace.
func parse(t *testing.T, ns string, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(ns)
		out = append(out, u)
	}
	return out
}

func newClient(t *testing.T) (client.Client, string) {
	t.Helper()
	env := clustertest.New(t)
	cfg := env.Config
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, env.Namespace
}

func apply(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
}

func check(t *testing.T, c client.Client, objs []*unstructured.Unstructured, ignore ...objects.IgnoreRule) *drift.Report {
	t.Helper()
	opts := drift.DefaultOptions()
	opts.Ignore = ignore
	return checkWith(t, c, objs, opts)
}

func checkWith(t *testing.T, c client.Client, objs []*unstructured.Unstructured, opts drift.Options) *drift.Report {
	t.Helper()
	r, err := drift.Check(t.Context(), c, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: agentic-rag/api:1.0.0
        resources:
          requests: {cpu: 1000m, memory: 1024Mi, ephemeral-storage: 0.5Gi}
          limits: {cpu: "1.5", memory: 2048Mi}
`

// TestNoFalsePositives applies objects written the way people write them and
// checks that nothing is reported right after: the false positives Argo CD
// users report, each as a case.
func TestNoFalsePositives(t *testing.T) {
	for _, tc := range []struct {
		name string
		// docs are applied, then checked.
		docs []string
	}{
		{"quantities (argo-cd #21135): 1000m == 1, 1024Mi == 1Gi, 0.5Gi == 512Mi", []string{deployment}},
		{"defaulted fields (argo-cd #15898): Service type, sessionAffinity, ports protocol, Deployment strategy", []string{`
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 8000, targetPort: 8000}]
`, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain}
spec:
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec:
      containers: [{name: c, image: busybox:1.37}]
`}},
		{"StatefulSet volumeClaimTemplates (argo-cd #11143)", []string{`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16.4-alpine}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 5120Mi}}
`}},
		{"ConfigMap and Secret with stringData", []string{`
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {LOG_LEVEL: info}
`, `
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
data: {password: c2VjcmV0}
`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ns := newClient(t)
			objs := parse(t, ns, tc.docs...)
			apply(t, c, objs)
			// Both paths: the shortcut for a last-applied manifest, and the
			// server-side dry run of every object (what diff uses).
			for _, lastApplied := range []bool{true, false} {
				opts := drift.DefaultOptions()
				opts.LastApplied = lastApplied
				if r := checkWith(t, c, objs, opts); !r.Clean() || r.Checked != len(objs) {
					t.Fatalf("last applied %t: checked %d, drift: %+v", lastApplied, r.Checked, r.Objects)
				}
			}
		})
	}
}

func TestFieldsOfOtherManagersAreNotDrift(t *testing.T) {
	c, ns := newClient(t)
	// No replicas in the desired object: the HPA (here: the scale
	// subresource, as the HPA uses it) owns them.
	objs := parse(t, ns, deployment)
	apply(t, c, objs)
	scale := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": map[string]any{"replicas": int64(5)}}}
	live := objs[0].DeepCopy()
	if err := c.SubResource("scale").Update(t.Context(), live, client.WithSubResourceBody(scale), client.FieldOwner("horizontal-pod-autoscaler")); err != nil {
		t.Fatal(err)
	}
	if r := check(t, c, objs); !r.Clean() {
		t.Fatalf("HPA-owned replicas reported: %+v", r.Objects)
	}

	// With replicas in the desired object, the same change is drift, at its path.
	withReplicas := parse(t, ns, deployment)
	_ = unstructured.SetNestedField(withReplicas[0].Object, int64(2), "spec", "replicas")
	r := check(t, c, withReplicas)
	if len(r.Objects) != 1 || len(r.Objects[0].Changes) != 1 || r.Objects[0].Changes[0].Path != "/spec/replicas" {
		t.Fatalf("report %+v; want only /spec/replicas", r.Objects)
	}
	// An ignore rule hides it.
	if r := check(t, c, withReplicas, objects.IgnoreRule{Kind: "Deployment", Name: "a*", Pointers: []string{"/spec/replicas"}}); !r.Clean() {
		t.Fatalf("ignored pointer reported: %+v", r.Objects)
	}
	if r := check(t, c, withReplicas, objects.IgnoreRule{Kind: "Deployment", Name: "other", Pointers: []string{"/spec/replicas"}}); r.Clean() {
		t.Fatal("an ignore rule for another name hid the drift")
	}

	// With an HPA among the desired objects that scales it, the replicas in
	// the manifest are a starting point: what the HPA set is not drift.
	hpa := parse(t, ns, `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: `+withReplicas[0].GetName()+`}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: `+withReplicas[0].GetName()+`}
  minReplicas: 2
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
`)
	apply(t, c, hpa)
	for _, lastApplied := range []bool{true, false} {
		opts := drift.DefaultOptions()
		opts.LastApplied = lastApplied
		if r := checkWith(t, c, append(withReplicas, hpa...), opts); !r.Clean() {
			t.Fatalf("last applied %t: replicas of an HPA's target reported: %+v", lastApplied, r.Objects)
		}
	}
}

// TestDroppedFieldShowsOnlyInADiff: a field the new manifest no longer has
// is a change for a diff (the dry run removes it), while a drift check of
// the manifest that was last applied takes the object as in sync.
func TestDroppedFieldShowsOnlyInADiff(t *testing.T) {
	c, ns := newClient(t)
	applied := parse(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: backend}}
data: {LOG_LEVEL: info, CACHE: "on"}
`)
	apply(t, c, applied)
	next := parse(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: backend}}
data: {LOG_LEVEL: info}
`)
	diff := drift.DefaultOptions()
	diff.LastApplied = false
	r := checkWith(t, c, next, diff)
	if len(r.Objects) != 1 || len(r.Objects[0].Changes) != 1 || r.Objects[0].Changes[0].Path != "/data/CACHE" {
		t.Fatalf("diff %+v; want /data/CACHE removed", r.Objects)
	}
	if r := check(t, c, applied); !r.Clean() {
		t.Fatalf("drift of the applied manifest: %+v", r.Objects)
	}
}

func TestSecretValuesAreNeverReported(t *testing.T) {
	c, ns := newClient(t)
	objs := parse(t, ns, `
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: cHctT3JpZ2luYWwtOQ==}
`)
	apply(t, c, objs)
	edited := objs[0].DeepCopy()
	_ = unstructured.SetNestedField(edited.Object, "cHctSGFuZC1FZGl0ZWQtNA==", "data", "password") // pw-Hand-Edited-4
	apply(t, c, []*unstructured.Unstructured{edited})
	r := check(t, c, objs)
	if len(r.Objects) != 1 || r.Objects[0].Changes[0].Path != "/data/password" {
		t.Fatalf("report %+v; want /data/password", r.Objects)
	}
	out, _ := yaml.Marshal(r)
	for _, v := range []string{"cHctT3JpZ2luYWwtOQ==", "pw-Original-9", "cHctSGFuZC1FZGl0ZWQtNA==", "pw-Hand-Edited-4"} {
		if contains(string(out), v) {
			t.Fatalf("report shows %q:\n%s", v, out)
		}
	}
}

func TestMissingObjectsAndKinds(t *testing.T) {
	c, ns := newClient(t)
	objs := parse(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: never-applied}
`, `
apiVersion: example.com/v1
kind: Widget
metadata: {name: no-crd}
`)
	r := check(t, c, objs)
	if len(r.Objects) != 2 || r.Objects[0].State != drift.Missing || r.Objects[1].State != drift.Missing {
		t.Fatalf("report %+v; want both Missing", r.Objects)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
