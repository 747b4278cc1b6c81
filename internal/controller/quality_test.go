package controller

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/driftwatch"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

const (
	rulesFile     = "../../charts/ragdeploy/files/recording-rules.yaml"
	dashboardFile = "../../charts/ragdeploy/files/dashboard.json"
)

type ruleGroups struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval"`
		Rules    []struct {
			Record string `json:"record"`
			Expr   string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

func loadRules(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var g ruleGroups
	if err := yaml.UnmarshalStrict(data, &g); err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			rules[r.Record] = r.Expr
		}
	}
	return rules
}

// promtool (the Debian prometheus package's) checks the recording rules and
// runs their unit tests: a day of counters and histograms in, the rates,
// ratios and means out.
func TestRecordingRules(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (apt-get install prometheus; `make test` installs it): %v", err)
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", "testdata/recording-rules-test.yaml"}} {
		out, err := exec.Command(bin, args...).CombinedOutput() //nolint:gosec // G204: promtool with fixed arguments
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exported is every metric name the controller and the drift watch export
// (histograms with their _sum, _count and _bucket series).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	collectors := append([]prometheus.Collector{m.phase, m.analysis, m.switches, m.deployments, m.failures, m.rollbacks, m.duration, m.recovery, m.leadTime},
		driftwatch.NewMetrics().Collectors()...)
	names := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, c := range collectors {
		ch := make(chan *prometheus.Desc, 4)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			name := fq.FindStringSubmatch(d.String())[1]
			names[name] = true
			for _, s := range []string{"_sum", "_count", "_bucket"} {
				names[name+s] = true
			}
		}
	}
	return names
}

// Every series the rules read is one the controller or the drift watch
// exports, so a renamed metric fails here rather than in a dashboard.
func TestRecordingRulesReadExportedMetrics(t *testing.T) {
	names := exported(t)
	// A name after a colon is a recording rule's, not a metric's.
	metric := regexp.MustCompile(`(?:^|[^:a-z_])(ragdeploy_[a-z_]+)`)
	for record, expr := range loadRules(t) {
		for _, m := range metric.FindAllStringSubmatch(expr, -1) {
			if name := m[1]; !names[name] {
				t.Errorf("rule %s reads %s, which nothing exports", record, name)
			}
		}
	}
}

// The dashboard has one panel per recording rule, each reading its rule
// for the selected environments, on a grid without overlaps.
func TestDashboardHasAPanelPerMetric(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string                   `json:"title"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || d.UID == "" || !slices.ContainsFunc(d.Templating.List, func(v struct {
		Name string `json:"name"`
	}) bool {
		return v.Name == "environment"
	}) {
		t.Fatalf("dashboard title %q uid %q variables %+v; want a title, a uid and an environment variable", d.Title, d.UID, d.Templating.List)
	}
	rules := loadRules(t)
	panels := map[string]string{}
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		if len(p.Targets) != 1 {
			t.Fatalf("panel %q has %d queries; want 1", p.Title, len(p.Targets))
		}
		expr := p.Targets[0].Expr
		record, filter, ok := strings.Cut(expr, "{")
		if !ok || filter != `environment=~"$environment"}` {
			t.Errorf("panel %q reads %q; want a recording rule filtered by the environment variable", p.Title, expr)
		}
		if _, ok := rules[record]; !ok {
			t.Errorf("panel %q reads %s, which is no recording rule", p.Title, record)
		}
		if other, dup := panels[record]; dup {
			t.Errorf("panels %q and %q both show %s", other, p.Title, record)
		}
		panels[record] = p.Title
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					t.Fatalf("panels %q and %q overlap", other, p.Title)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
	}
	for record := range rules {
		if _, ok := panels[record]; !ok {
			t.Errorf("no panel shows %s", record)
		}
	}
}

// The chart ships the rules as a PrometheusRule and the dashboard as a
// ConfigMap, each equal to its file, only when asked.
func TestChartShipsRulesAndDashboard(t *testing.T) {
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		t.Fatal(err)
	}
	rel := render.Release{Name: "ragdeploy", Namespace: "ragdeploy-system"}
	find := func(objs []render.Object, kind string) map[string]any {
		for _, o := range objs {
			if o.GetKind() == kind && strings.HasSuffix(o.GetName(), map[string]string{"PrometheusRule": "-quality", "ConfigMap": "-dashboard"}[kind]) {
				return o.Object
			}
		}
		return nil
	}
	objs, err := render.Render(context.Background(), c, rel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if find(objs, "PrometheusRule") != nil || find(objs, "ConfigMap") != nil {
		t.Fatal("rules or dashboard rendered by default; want them opt-in")
	}
	objs, err = render.Render(context.Background(), c, rel, map[string]any{"metrics": map[string]any{
		"prometheusRule": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}}})
	if err != nil {
		t.Fatal(err)
	}
	pr, cm := find(objs, "PrometheusRule"), find(objs, "ConfigMap")
	if pr == nil || cm == nil {
		t.Fatal("PrometheusRule or dashboard ConfigMap missing with both enabled")
	}
	file, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	if err := yaml.Unmarshal(file, &want); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(pr["spec"])
	if err := json.Unmarshal(spec, &got); err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	if gotJSON, _ := json.Marshal(got); string(gotJSON) != string(wantJSON) {
		t.Fatalf("PrometheusRule spec differs from %s", rulesFile)
	}
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := cm["data"].(map[string]any)
	if data["ragdeploy-quality.json"] != strings.TrimSuffix(string(dash), "\n") {
		t.Fatal("dashboard ConfigMap differs from the dashboard file")
	}
	if labels, _ := cm["metadata"].(map[string]any)["labels"].(map[string]any); labels["grafana_dashboard"] != "1" {
		t.Fatal("dashboard ConfigMap lacks the grafana_dashboard label the sidecar looks for")
	}
}
