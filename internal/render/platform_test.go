package render_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

var environments = []string{"development", "staging", "production"}

// environment reads environments/<name>.yaml: the release and its values.
func environment(t *testing.T, name string) (render.Release, map[string]any) {
	t.Helper()
	env, err := envconfig.Load(filepath.Join("..", "..", "environments", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return render.Release{Name: env.Release.Name, Namespace: env.Release.Namespace}, env.Values
}

func renderPlatform(t *testing.T, rel render.Release, values map[string]any) ([]render.Object, error) {
	t.Helper()
	c, err := render.LoadChart(charts.FS, "agentic-rag")
	if err != nil {
		t.Fatal(err)
	}
	return render.Render(context.Background(), c, rel, values)
}

// Every pod of every environment: requests and limits on each container,
// probes on long-running containers, and the "restricted" security settings.
func TestPlatformPodPolicy(t *testing.T) {
	for _, env := range environments {
		rel, values := environment(t, env)
		objs, err := renderPlatform(t, rel, values)
		if err != nil {
			t.Fatal(err)
		}
		pods := 0
		for _, o := range objs {
			spec, path := podSpecOf(o.Unstructured)
			if spec == nil {
				continue
			}
			pods++
			where := env + ": " + o.GetKind() + " " + o.GetName()
			t.Run(strings.ReplaceAll(where, " ", "_"), func(t *testing.T) {
				if v, _, _ := unstructured.NestedBool(spec, "securityContext", "runAsNonRoot"); !v {
					t.Errorf("%s (%s): runAsNonRoot is not true", where, path)
				}
				if v, _, _ := unstructured.NestedString(spec, "securityContext", "seccompProfile", "type"); v != "RuntimeDefault" {
					t.Errorf("%s: seccomp profile %q", where, v)
				}
				longRunning := o.GetKind() != "Job" && o.GetKind() != "Pod" && !strings.HasSuffix(path, "preDeployJob")
				containers, _, _ := unstructured.NestedSlice(spec, "containers")
				for _, c := range containers {
					c := c.(map[string]any)
					name := c["name"]
					for _, f := range [][]string{{"resources", "requests", "cpu"}, {"resources", "requests", "memory"}, {"resources", "limits", "cpu"}, {"resources", "limits", "memory"}} {
						if _, ok, _ := unstructured.NestedFieldNoCopy(c, f...); !ok {
							t.Errorf("%s container %v: no %s", where, name, strings.Join(f, "."))
						}
					}
					if esc, ok, _ := unstructured.NestedBool(c, "securityContext", "allowPrivilegeEscalation"); !ok || esc {
						t.Errorf("%s container %v: allowPrivilegeEscalation not false", where, name)
					}
					if drop, _, _ := unstructured.NestedStringSlice(c, "securityContext", "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
						t.Errorf("%s container %v: capabilities drop %v, want [ALL]", where, name, drop)
					}
					if longRunning {
						for _, p := range []string{"livenessProbe", "readinessProbe"} {
							if _, ok := c[p]; !ok {
								t.Errorf("%s container %v: no %s", where, name, p)
							}
						}
					}
				}
			})
		}
		if pods < 4 {
			t.Errorf("%s: only %d pod templates found; want the api and three databases at least", env, pods)
		}
		drainSafeAPI(t, env, objs)
	}
}

// drainSafeAPI: the api's pods keep serving for a preStop pause when
// deleted (kube-proxy's sync) within a grace period that covers it.
func drainSafeAPI(t *testing.T, env string, objs []render.Object) {
	t.Helper()
	for _, o := range objs {
		if (o.GetKind() != "Rollout" && o.GetKind() != "Deployment") || !strings.HasSuffix(o.GetName(), "-api") {
			continue
		}
		spec, _ := podSpecOf(o.Unstructured)
		grace := toInt64(spec["terminationGracePeriodSeconds"])
		containers, _, _ := unstructured.NestedSlice(spec, "containers")
		pause, _, _ := unstructured.NestedFieldNoCopy(containers[0].(map[string]any), "lifecycle", "preStop", "sleep", "seconds")
		if toInt64(pause) < 1 || grace < toInt64(pause) {
			t.Errorf("%s %s %s: preStop sleep %v within grace %d; want a pause of at least 1 s covered by the grace period", env, o.GetKind(), o.GetName(), pause, grace)
		}
		return
	}
	t.Errorf("%s: no api workload", env)
}

// podSpecOf finds the pod spec in a workload (and in a Rollout).
func podSpecOf(u *unstructured.Unstructured) (map[string]any, string) {
	switch u.GetKind() {
	case "Pod":
		spec, _, _ := unstructured.NestedMap(u.Object, "spec")
		return spec, "spec"
	case "Deployment", "StatefulSet", "Job", "Rollout":
		spec, _, _ := unstructured.NestedMap(u.Object, "spec", "template", "spec")
		return spec, "spec.template.spec"
	}
	return nil, ""
}

func TestPlatformEnvironments(t *testing.T) {
	want := map[string]struct {
		kind     string
		replicas int64
		memory   string
		storage  string
	}{
		"development": {"Deployment", 1, "256Mi", "5Gi"},
		"staging":     {"Rollout", 2, "512Mi", "20Gi"},
		"production":  {"Rollout", 3, "1Gi", "100Gi"}, // the HPA's minReplicas; the HPA owns them after
	}
	for _, env := range environments {
		rel, values := environment(t, env)
		objs, err := renderPlatform(t, rel, values)
		if err != nil {
			t.Fatal(err)
		}
		w := want[env]
		api := find(objs, w.kind)
		if len(api) != 1 {
			t.Fatalf("%s: %d %s; want the api as one", env, len(api), w.kind)
		}
		raw, found, _ := unstructured.NestedFieldNoCopy(api[0].Object, "spec", "replicas")
		replicas := toInt64(raw)
		if replicas != w.replicas || !found {
			t.Errorf("%s: api replicas %d (set %t); want %d", env, replicas, found, w.replicas)
		}
		containers, _, _ := unstructured.NestedSlice(api[0].Object, "spec", "template", "spec", "containers")
		if mem, _, _ := unstructured.NestedString(containers[0].(map[string]any), "resources", "requests", "memory"); mem != w.memory {
			t.Errorf("%s: api memory request %s; want %s", env, mem, w.memory)
		}
		for _, sts := range find(objs, "StatefulSet") {
			if sts.GetName() != "agentic-rag-postgresql" {
				continue
			}
			claims, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
			if got, _, _ := unstructured.NestedString(claims[0].(map[string]any), "spec", "resources", "requests", "storage"); got != w.storage {
				t.Errorf("%s: database storage %s; want %s", env, got, w.storage)
			}
		}
		if env == "production" {
			for _, k := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy"} {
				if len(find(objs, k)) == 0 {
					t.Errorf("production renders no %s", k)
				}
			}
		}
	}
}

func TestPlatformRejectsBadValues(t *testing.T) {
	rel, base := environment(t, "development")
	tests := []struct {
		name string
		// set is merged into the development values at path.
		path  []string
		value any
		// want is a substring of the error: the field path or the hint.
		want string
	}{
		{"unknown top-level key", []string{"apii"}, map[string]any{}, "apii"},
		{"unknown api key", []string{"api", "replica"}, 2, "replica"},
		{"replicas as string", []string{"api", "replicas"}, "three", "api/replicas"},
		{"negative replicas", []string{"api", "replicas"}, -1, "api/replicas"},
		{"bad strategy", []string{"api", "strategy"}, "recreate", "api/strategy"},
		{"canary weight of 100", []string{"api", "canary", "steps"}, []any{map[string]any{"setWeight": 100}}, "api/canary/steps/0/setWeight"},
		{"bad digest", []string{"api", "image", "digest"}, "sha256:xyz", "api/image/digest"},
		{"probe path without slash", []string{"api", "probes", "path"}, "health", "api/probes/path"},
		{"bad pull policy", []string{"api", "image", "pullPolicy"}, "Sometimes", "api/image/pullPolicy"},
		{"missing limits", []string{"api", "resources", "limits"}, nil, "limits"},
		{"missing database secret", []string{"postgresql", "auth", "existingSecret"}, "", "existingSecret"},
		{"bad database size", []string{"postgresql", "size"}, "xl", "size"},
		{"external database without host", []string{"postgresql", "enabled"}, false, "externalDatabase.host is required"},
		{"bad webhook url", []string{"api", "blueGreen", "notifications"}, []any{"slack"}, "notifications"},
		{"ingress host missing", []string{"ingress", "hosts"}, []any{map[string]any{"path": "/"}}, "hosts"},
		{"negative preStop", []string{"api", "drain", "preStopSeconds"}, -1, "api/drain/preStopSeconds"},
		{"grace shorter than preStop", []string{"api", "drain", "terminationGracePeriodSeconds"}, 2, "must be at least api.drain.preStopSeconds"},
		{"analysis field misspelled", []string{"api", "blueGreen", "prePromotionAnalysis"}, []any{map[string]any{"name": "smoke", "intervalSecond": 2}}, "intervalSecond"},
		{"analysis without a name", []string{"api", "blueGreen", "postPromotionAnalysis"}, []any{map[string]any{"count": 2}}, "name"},
		{"analysis count zero", []string{"api", "blueGreen", "prePromotionAnalysis"}, []any{map[string]any{"name": "smoke", "count": 0}}, "count"},
		{"analysis http without url", []string{"api", "blueGreen", "prePromotionAnalysis"}, []any{map[string]any{"name": "smoke", "http": map[string]any{"jsonField": "status"}}}, "url"},
		{"analysis bad success condition", []string{"api", "blueGreen", "prePromotionAnalysis"}, []any{map[string]any{"name": "errors", "prometheus": map[string]any{"address": "http://p:9090", "query": "up", "successCondition": "up == 1"}}}, "successCondition"},
		{"fullnameOverride not a DNS label", []string{"postgresql", "fullnameOverride"}, "My_DB", "fullnameOverride"},
		{"nameOverride not a DNS label", []string{"nameOverride"}, "Agentic RAG", "nameOverride"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := deepCopy(base)
			set(values, tt.path, tt.value)
			_, err := renderPlatform(t, rel, values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("render error %v; want one naming %q", err, tt.want)
			}
		})
	}
}

func deepCopy(m map[string]any) map[string]any {
	data, _ := yaml.Marshal(m)
	var out map[string]any
	_ = yaml.Unmarshal(data, &out)
	return out
}

func set(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// toInt64 reads a decoded YAML number.
func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// TestManifestsUpToDate is the chart's golden test: deploy/kubernetes/<env>/
// (what `make manifests` writes, and what users apply without Helm) must be
// exactly what the chart renders now, object by object and byte by byte.
func TestManifestsUpToDate(t *testing.T) {
	for _, env := range environments {
		rel, values := environment(t, env)
		objs, err := renderPlatform(t, rel, values)
		if err != nil {
			t.Fatal(err)
		}
		files, err := render.Manifests(objs)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("..", "..", "deploy", "kubernetes", env)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v: run make manifests", err)
		}
		if len(entries) != len(files) {
			t.Errorf("%s has %d files; the chart renders %d: run make manifests", dir, len(entries), len(files))
		}
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: test fixture path
			if err != nil || string(got) != string(want) {
				t.Errorf("%s/%s is out of date: run make manifests", dir, name)
			}
		}
	}
}

// Disabled subcharts wire the api to external endpoints, and the global
// registry and pull secrets reach every image.
func TestPlatformExternalServicesAndRegistry(t *testing.T) {
	rel, values := environment(t, "development")
	set(values, []string{"postgresql"}, map[string]any{"enabled": false})
	set(values, []string{"externalDatabase"}, map[string]any{"host": "db.example.internal", "port": 6432, "existingSecret": "managed-db"})
	set(values, []string{"global"}, map[string]any{"imageRegistry": "mirror.example.com", "imagePullSecrets": []any{map[string]any{"name": "mirror-pull"}}})
	objs, err := renderPlatform(t, rel, values)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range find(objs, "StatefulSet") {
		if s.GetName() == "agentic-rag-postgresql" {
			t.Fatal("postgresql rendered although disabled")
		}
	}
	api := find(objs, "Deployment")[0]
	text := fmtJSON(api.Object)
	for _, want := range []string{`"value":"db.example.internal"`, `"value":"6432"`, `"name":"managed-db"`, `"image":"mirror.example.com/agentic-rag/api:1.0.0"`, `"name":"mirror-pull"`} {
		if !strings.Contains(text, want) {
			t.Errorf("api Deployment lacks %s", want)
		}
	}
	for _, s := range find(objs, "StatefulSet") {
		if img := fmtJSON(s.Object); !strings.Contains(img, `"image":"mirror.example.com/`) {
			t.Errorf("%s does not pull from the global registry", s.GetName())
		}
	}
}

// Name overrides of a backend subchart rename its objects, and the api, its
// migration and the NetworkPolicies follow: they take the subchart's names
// from the same templates the subchart uses.
func TestPlatformFollowsBackendNameOverrides(t *testing.T) {
	rel, values := environment(t, "staging")
	set(values, []string{"postgresql", "fullnameOverride"}, "orders-db")
	set(values, []string{"redis", "nameOverride"}, "cache")
	objs, err := renderPlatform(t, rel, values)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, o := range objs {
		names[o.GetKind()+"/"+o.GetName()] = true
	}
	for _, want := range []string{"StatefulSet/orders-db", "Service/orders-db", "Service/orders-db-headless", "StatefulSet/agentic-rag-cache", "Service/agentic-rag-cache", "StatefulSet/agentic-rag-chromadb"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
	for _, gone := range []string{"StatefulSet/agentic-rag-postgresql", "StatefulSet/agentic-rag-redis"} {
		if names[gone] {
			t.Errorf("%s rendered although overridden", gone)
		}
	}
	api := fmtJSON(find(objs, "Rollout")[0].Object)
	for _, want := range []string{`{"name":"DATABASE_HOST","value":"orders-db"}`, `{"name":"REDIS_HOST","value":"agentic-rag-cache"}`} {
		if !strings.Contains(api, want) {
			t.Errorf("the api lacks %s", want)
		}
	}
	policies := fmtJSON(find(objs, "NetworkPolicy"))
	for _, want := range []string{`"app.kubernetes.io/name":"cache"`} {
		if !strings.Contains(policies, want) {
			t.Errorf("the NetworkPolicies lack %s", want)
		}
	}
	for _, s := range find(objs, "StatefulSet") {
		sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector", "matchLabels")
		if s.GetName() == "agentic-rag-cache" && sel["app.kubernetes.io/name"] != "cache" {
			t.Errorf("redis selects %v; want the overridden name", sel)
		}
	}
}

// The analysis items of the chart's schema are the CRD's AnalysisCheck (its
// types, bounds, defaults and required fields), so values the CRD would
// refuse fail at render time, naming the field. The chart's copy is checked
// here against the CRD generated from api/.
func TestAnalysisSchemaIsTheCRDs(t *testing.T) {
	crdData, err := os.ReadFile("../../charts/ragdeploy/crds/ragdeploy.io_rollouts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(crdData, &crd); err != nil {
		t.Fatal(err)
	}
	items := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["strategy"].Properties["blueGreen"].Properties["prePromotionAnalysis"].Items.Schema
	want := asJSONSchema(*items)

	schemaData, err := os.ReadFile("../../charts/agentic-rag/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(schemaData, &schema); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedFieldNoCopy(schema, "definitions", "analysisCheck")
	if fmtJSON(got) != fmtJSON(want) {
		t.Errorf("values.schema.json definitions.analysisCheck differs from the CRD's AnalysisCheck; want:\n%s", fmtJSON(want))
	}
	for _, stage := range []string{"prePromotionAnalysis", "postPromotionAnalysis"} {
		ref, _, _ := unstructured.NestedString(schema, "properties", "api", "properties", "blueGreen", "properties", stage, "items", "$ref")
		if ref != "#/definitions/analysisCheck" {
			t.Errorf("api.blueGreen.%s items are %q; want the analysisCheck definition", stage, ref)
		}
	}
}

// asJSONSchema is a CRD schema as draft-07 JSON Schema: what values can be
// checked against (no Kubernetes extensions or formats), objects with
// properties closed to others.
func asJSONSchema(p apiextensionsv1.JSONSchemaProps) map[string]any {
	out := map[string]any{}
	put := func(k string, v any, ok bool) {
		if ok {
			out[k] = v
		}
	}
	put("description", p.Description, p.Description != "")
	put("type", p.Type, p.Type != "")
	if p.Default != nil {
		var v any
		_ = json.Unmarshal(p.Default.Raw, &v)
		out["default"] = v
	}
	if p.Minimum != nil {
		out["minimum"] = *p.Minimum
	}
	if p.Maximum != nil {
		out["maximum"] = *p.Maximum
	}
	if p.MinLength != nil {
		out["minLength"] = *p.MinLength
	}
	if p.MaxLength != nil {
		out["maxLength"] = *p.MaxLength
	}
	put("pattern", p.Pattern, p.Pattern != "")
	put("required", p.Required, len(p.Required) > 0)
	if len(p.Enum) > 0 {
		var enum []any
		for _, e := range p.Enum {
			var v any
			_ = json.Unmarshal(e.Raw, &v)
			enum = append(enum, v)
		}
		out["enum"] = enum
	}
	if len(p.Properties) > 0 {
		props := map[string]any{}
		for name, sub := range p.Properties {
			props[name] = asJSONSchema(sub)
		}
		out["properties"] = props
		out["additionalProperties"] = false
	}
	// Through JSON, so numbers compare as the decoded file's do.
	var normalized map[string]any
	_ = json.Unmarshal([]byte(fmtJSON(out)), &normalized)
	return normalized
}

// api.strategy canary renders a Rollout whose strategy is the chart's
// canary steps (and nothing of blue-green), with a preview Service for the
// canary pods and the HPA aimed at the Rollout.
func TestPlatformCanary(t *testing.T) {
	rel, values := environment(t, "development")
	set(values, []string{"api", "strategy"}, "canary")
	set(values, []string{"api", "autoscaling", "enabled"}, true)
	objs, strategy := renderedStrategy(t, rel, values)
	steps, _, _ := unstructured.NestedSlice(strategy, "canary", "steps")
	if _, bg := strategy["blueGreen"]; bg || len(steps) != 4 || fmtJSON(steps[0]) != fmtJSON(map[string]any{"setWeight": int64(25)}) {
		t.Fatalf("strategy %v; want the 4 canary steps of values.yaml, no blueGreen", strategy)
	}
	services := map[string]bool{}
	for _, o := range find(objs, "Service") {
		services[o.GetName()] = true
	}
	if !services["agentic-rag-api"] || !services["agentic-rag-api-preview"] {
		t.Fatalf("Services %v; want the active and the preview one", services)
	}
	kind, _, _ := unstructured.NestedString(find(objs, "HorizontalPodAutoscaler")[0].Object, "spec", "scaleTargetRef", "kind")
	if kind != "Rollout" {
		t.Fatalf("HPA targets %s; want the Rollout", kind)
	}
}

// api.strategy rolling is a plain Deployment with the bounds of
// api.rolling until checks or a pause are configured; then it is a Rollout
// whose strategy.rolling carries them, the HPA aimed at it.
func TestPlatformRolling(t *testing.T) {
	rel, values := environment(t, "development")
	set(values, []string{"api", "strategy"}, "rolling")
	set(values, []string{"api", "rolling", "maxSurge"}, int64(2))
	objs, err := renderPlatform(t, rel, values)
	if err != nil {
		t.Fatal(err)
	}
	if len(find(objs, "Rollout")) != 0 {
		t.Fatal("a Rollout without checks or a pause; want the plain Deployment")
	}
	var dep *render.Object
	for _, o := range find(objs, "Deployment") {
		if o.GetName() == "agentic-rag-api" {
			dep = &o
		}
	}
	if dep == nil {
		t.Fatal("no api Deployment")
	}
	if surge, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "strategy", "rollingUpdate", "maxSurge"); fmtJSON(surge) != "2" {
		t.Fatalf("Deployment maxSurge %v; want api.rolling's 2", surge)
	}

	for name, pause := range map[string]any{"a pause for promote": map[string]any{}, "a timed pause": map[string]any{"durationSeconds": int64(0)}} {
		rel, values := environment(t, "development")
		set(values, []string{"api", "strategy"}, "rolling")
		set(values, []string{"api", "rolling", "pause"}, pause)
		set(values, []string{"api", "autoscaling", "enabled"}, true)
		objs, strategy := renderedStrategy(t, rel, values)
		got, _, _ := unstructured.NestedMap(strategy, "rolling", "pause")
		if fmtJSON(got) != fmtJSON(pause) {
			t.Errorf("%s: rendered pause %v; want %v", name, got, pause)
		}
		kind, _, _ := unstructured.NestedString(find(objs, "HorizontalPodAutoscaler")[0].Object, "spec", "scaleTargetRef", "kind")
		if kind != "Rollout" {
			t.Errorf("%s: HPA targets %s; want the Rollout", name, kind)
		}
	}

	rel, values = environment(t, "development")
	set(values, []string{"api", "strategy"}, "rolling")
	set(values, []string{"api", "rolling", "batchAnalysis"}, []any{map[string]any{"name": "smoke", "http": map[string]any{"url": "http://x"}}})
	_, strategy := renderedStrategy(t, rel, values)
	checks, _, _ := unstructured.NestedSlice(strategy, "rolling", "batchAnalysis")
	if _, bg := strategy["blueGreen"]; bg || len(checks) != 1 || strategy["rolling"].(map[string]any)["maxSurge"] != "25%" {
		t.Fatalf("strategy %v; want rolling with the batch check and values.yaml's 25%% surge, no blueGreen", strategy)
	}
}

// renderedStrategy renders the platform and returns its objects and the
// strategy of its one Rollout.
func renderedStrategy(t *testing.T, rel render.Release, values map[string]any) ([]render.Object, map[string]any) {
	t.Helper()
	objs, err := renderPlatform(t, rel, values)
	if err != nil {
		t.Fatal(err)
	}
	rollouts := find(objs, "Rollout")
	if len(rollouts) != 1 {
		t.Fatalf("%d Rollouts; want 1", len(rollouts))
	}
	strategy, _, _ := unstructured.NestedMap(rollouts[0].Object, "spec", "strategy")
	return objs, strategy
}

// api.canary.trafficRouting reaches the Rollout's canary strategy as
// given; a route without a name is refused by the schema.
func TestPlatformCanaryTrafficRouting(t *testing.T) {
	rel, values := environment(t, "development")
	set(values, []string{"api", "strategy"}, "canary")
	set(values, []string{"api", "canary", "trafficRouting"}, map[string]any{"gatewayAPI": map[string]any{"httpRoute": "shop"}})
	_, strategy := renderedStrategy(t, rel, values)
	if route, _, _ := unstructured.NestedString(strategy, "canary", "trafficRouting", "gatewayAPI", "httpRoute"); route != "shop" {
		t.Fatalf("strategy %v; want the canary's trafficRouting to name HTTPRoute shop", strategy)
	}
	rel, values = environment(t, "development")
	set(values, []string{"api", "strategy"}, "canary")
	set(values, []string{"api", "canary", "trafficRouting"}, map[string]any{"gatewayAPI": map[string]any{}})
	if _, err := renderPlatform(t, rel, values); err == nil || !strings.Contains(err.Error(), "httpRoute") {
		t.Fatalf("a route without a name: %v; want the schema to refuse it, naming httpRoute", err)
	}
}
