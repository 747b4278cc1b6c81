package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/cli"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/prober"
)

// trafficWorld is a local cluster with a real node, the controller, and a
// 3-replica api rollout "shop/api" on the real node, with two probers
// sending 100 requests/s each to its active Service from inside the node's
// network: one on a new connection per request, one on kept-alive
// connections.
type trafficWorld struct {
	cluster     *localcluster.Cluster
	c           client.WithWatch
	fresh, kept *prober.Prober
	key         types.NamespacedName
}

func apiImage(v string) string { return "agentic-rag/api:" + v }

// worldOptions shape a trafficWorld.
type worldOptions struct {
	scaleDownDelay int32
	autoPromotion  bool
	// inCluster runs the controller as charts/ragdeploy's two pods on the
	// real node (leader election, HTTP checks from inside the cluster)
	// instead of in the test process.
	inCluster bool
	// postPromotion checks, run by the controller.
	postPromotion []v1alpha1.AnalysisCheck
	// readinessPath of the api container (default /health).
	readinessPath string
	// env of the api container.
	env []corev1.EnvVar
	// canary, when set, is the rollout's strategy instead of blue-green
	// (scaleDownDelay is then its scaleDownDelaySeconds).
	canary *v1alpha1.CanaryStrategy
	// rolling, when set, is the rollout's strategy instead of blue-green.
	rolling *v1alpha1.RollingStrategy
	// preStopSeconds, when set, gives the api container a preStop sleep,
	// as the chart does (api.drain.preStopSeconds).
	preStopSeconds int64
}

func newTrafficWorld(t *testing.T, o worldOptions) *trafficWorld {
	t.Helper()
	requireRealNodes(t)
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, Nodes: 1, RealNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	ctx := t.Context()
	c, err := client.NewWithWatch(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if o.inCluster {
		if err := cli.InstallInClusterController(ctx, cluster, binary); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
			t.Fatal(err)
		}
		stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0", MultipleInProcess: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("controller: %v", err)
			}
		})
	}
	shopServices(ctx, t, c)
	readiness := o.readinessPath
	if readiness == "" {
		readiness = "/health"
	}
	strategy := v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		ScaleDownDelaySeconds: new(o.scaleDownDelay),
		AutoPromotion:         &v1alpha1.AutoPromotion{Enabled: o.autoPromotion},
		PostPromotionAnalysis: o.postPromotion,
	}}
	switch {
	case o.canary != nil:
		o.canary.ScaleDownDelaySeconds = new(o.scaleDownDelay)
		strategy = v1alpha1.Strategy{Canary: o.canary}
	case o.rolling != nil:
		strategy = v1alpha1.Strategy{Rolling: o.rolling}
	}
	var lifecycle *corev1.Lifecycle
	if o.preStopSeconds > 0 {
		lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: o.preStopSeconds}}}
	}
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.RolloutSpec{
			Replicas:       new(int32(3)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			ActiveService:  "api",
			PreviewService: "api-preview",
			Strategy:       strategy,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{localcluster.RealNodeLabel: "real"},
					Tolerations:  []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "api", Image: apiImage("1.0.0"), Env: o.env, Lifecycle: lifecycle,
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: readiness, Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if err := c.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	w := &trafficWorld{cluster: cluster, c: c, key: types.NamespacedName{Namespace: "shop", Name: "api"}}
	w.wait(t, "1.0.0 serving", w.serving("1.0.0", true))
	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "api"}, &svc); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:8000/v1/ask", svc.Spec.ClusterIP)
	// Measure from the first answer: a new Service answers once kube-proxy
	// has programmed it, which can be a moment after its pods are Ready
	// (WaitAnswered says why the probers must not be the ones to find out).
	if err := cluster.WaitAnswered(ctx, url); err != nil {
		t.Fatalf("the api Service never answered: %v", err)
	}
	pctx, stopProbers := context.WithCancel(context.Background())
	t.Cleanup(stopProbers)
	w.fresh = prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, Dial: cluster.DialInNode})
	w.kept = prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, KeepAlive: true, Dial: cluster.DialInNode})
	return w
}

// serving: the rollout has seen its spec, is Healthy on version with every
// replica ready, and (when scaledDown) the other color has 0 replicas.
func (w *trafficWorld) serving(version string, scaledDown bool) func(*v1alpha1.Rollout) bool {
	return func(b *v1alpha1.Rollout) bool {
		other := b.Status.Blue
		if b.Status.ActiveColor == v1alpha1.Blue {
			other = b.Status.Green
		}
		return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseHealthy &&
			b.Status.StableRevision == b.Status.CurrentRevision && b.Spec.Template.Spec.Containers[0].Image == apiImage(version) &&
			(!scaledDown || other.Replicas == 0)
	}
}

// rolledBack: the rollout has seen its spec, is Aborted and its new
// color is at zero.
func rolledBack(b *v1alpha1.Rollout) bool {
	_, idle := colors(b)
	return phase(v1alpha1.PhaseAborted)(b) && idle.Replicas == 0
}

// phase: the rollout has seen its spec and is in phase p.
func phase(p v1alpha1.Phase) func(*v1alpha1.Rollout) bool {
	return func(b *v1alpha1.Rollout) bool {
		return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == p
	}
}

func (w *trafficWorld) setImage(t *testing.T, version string) {
	t.Helper()
	// A JSON patch of the image alone (a merge patch would replace the
	// containers list, probes and all).
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, apiImage(version))
	if err := w.c.Patch(t.Context(), &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}}, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// rollout runs a rollout command of the ragdeploy binary on shop/api.
func (w *trafficWorld) rollout(t *testing.T, args ...string) {
	t.Helper()
	if res := ragdeploy(t, t.TempDir(), nil, append(append([]string{"rollout"}, args...), "api", "-n", "shop", "--kubeconfig", w.cluster.Kubeconfig)...); res.code != 0 {
		t.Fatalf("rollout %v: exit %d: %s", args, res.code, res.stderr)
	}
}

// watchWithProbe starts `ragdeploy rollout status -w --probe service/api`
// and returns once it has printed its first traffic line; the function it
// returns waits for the command to exit 0 and returns its output.
func (w *trafficWorld) watchWithProbe(t *testing.T) func() string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, "rollout", "status", "api", "-n", "shop", "-w", "--probe", "service/api", "--probe-rate", "20", "--kubeconfig", w.cluster.Kubeconfig) //nolint:gosec // G204: runs the binary the test built, arguments as a list
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	var all strings.Builder
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for line := range lines {
		all.WriteString(line + "\n")
		if strings.HasPrefix(line, "Traffic:") {
			break
		}
	}
	return func() string {
		for line := range lines {
			all.WriteString(line + "\n")
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("rollout status -w --probe: %v: %s", err, stderr.String())
		}
		return all.String()
	}
}

// pinReplicas creates an HPA that holds the rollout at n replicas (the
// scale subresource, as any autoscaler writes it).
func (w *trafficWorld) pinReplicas(t *testing.T, n int32) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: "api"},
			MinReplicas:    new(n), MaxReplicas: n,
		},
	}
	if err := w.c.Create(t.Context(), hpa); err != nil {
		t.Fatal(err)
	}
	return hpa
}

// wait watches the rollout until cond holds.
func (w *trafficWorld) wait(t *testing.T, what string, cond func(*v1alpha1.Rollout) bool) {
	t.Helper()
	watchRollout(t.Context(), t, w.c, w.key, what, cond)
}

// watchRollout watches a rollout until cond holds (within 2 minutes). The
// watch starts before the first read, so no change between them is missed.
func watchRollout(ctx context.Context, t *testing.T, c client.WithWatch, key types.NamespacedName, what string, cond func(*v1alpha1.Rollout) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var b v1alpha1.Rollout
	watch, err := c.Watch(ctx, &v1alpha1.RolloutList{}, client.InNamespace(key.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	if err := c.Get(ctx, key, &b); err == nil && cond(&b) {
		return
	}
	for ev := range watch.ResultChan() {
		if got, ok := ev.Object.(*v1alpha1.Rollout); ok && got.Name == key.Name && cond(got) {
			return
		}
	}
	_ = c.Get(context.Background(), key, &b)
	t.Fatalf("rollout never %s: phase %s, %s", what, b.Status.Phase, b.Status.Message)
}

// settleRequests is the window after a switch in which every answer must
// come from the version switched to: a second of traffic.
const settleRequests = 100

// check waits until new connections are answered by want, then takes both
// probers' traffic since the last check: no request failed, and forbidden
// (when set) never answered. It then takes the next settleRequests
// requests on new connections: every one answered by want; when settled
// (the other color is scaled down, so kept-alive connections have had to
// reconnect; check waits until its pods are gone), the kept-alive ones too.
// It returns the line for the test's report.
func (w *trafficWorld) check(t *testing.T, step, want, forbidden string, settled bool) string {
	t.Helper()
	answeredBy := func(p *prober.Prober) func(context.Context) (bool, error) {
		return func(context.Context) (bool, error) {
			last, ok := p.Latest()
			return ok && last.Version == want, nil
		}
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, answeredBy(w.fresh)); err != nil {
		t.Errorf("%s: new connections never answered by %s", step, want)
	}
	if settled {
		// Kept-alive connections leave an old version once its pods are
		// gone (each answers Connection: close while it drains); pods of
		// forbidden sit behind the preview Service only.
		if err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			var pods corev1.PodList
			if err := w.c.List(ctx, &pods, client.InNamespace("shop")); err != nil {
				return false, nil
			}
			return !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool {
				img := p.Spec.Containers[0].Image
				return img != apiImage(want) && (forbidden == "" || img != apiImage(forbidden))
			}), nil
		}); err != nil {
			t.Errorf("%s: pods of versions other than %s (and %s, which takes no traffic) never went", step, want, forbidden)
		}
		if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, answeredBy(w.kept)); err != nil {
			t.Errorf("%s: kept-alive connections never answered by %s", step, want)
		}
	}
	f, k := w.fresh.Take(), w.kept.Take()
	line := fmt.Sprintf("%s: new connections %s | kept-alive %s", step, f, k)
	t.Log(line)
	if f.Failed > 0 || k.Failed > 0 {
		t.Errorf("%s: %d and %d requests failed (new connections: %s; kept-alive: %s)", step, f.Failed, k.Failed, f.LastError, k.LastError)
	}
	if forbidden != "" && (f.Version(forbidden).Answers > 0 || k.Version(forbidden).Answers > 0) {
		t.Errorf("%s: %s answered, but it must get no traffic", step, forbidden)
	}
	until := w.fresh.Count() + settleRequests
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return w.fresh.Count() >= until, nil
	}); err != nil {
		t.Errorf("%s: the prober stalled", step)
	}
	f, k = w.fresh.Take(), w.kept.Take()
	if f.Failed > 0 || k.Failed > 0 {
		t.Errorf("%s, next second: %d and %d requests failed", step, f.Failed, k.Failed)
	}
	only := func(s prober.Summary) bool { return len(s.Versions) == 1 && s.Versions[0].Version == want }
	if !only(f) {
		t.Errorf("%s, next second: new connections answered by %s; want %s only", step, f, want)
	}
	if settled && !only(k) {
		t.Errorf("%s, next second: kept-alive connections answered by %s; want %s only", step, k, want)
	}
	return line
}

// failedOnNode waits until kubelet has reported a pod of version failing:
// a failed probe (Unhealthy) or a restart (BackOff).
func (w *trafficWorld) failedOnNode(t *testing.T, version string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(w.cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		events, err := cs.CoreV1().Events("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != apiImage(version) {
				continue
			}
			for _, e := range events.Items {
				if e.InvolvedObject.Name == p.Name && e.Source.Component == "kubelet" && (e.Reason == "Unhealthy" || e.Reason == "BackOff") {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		pods, _ := cs.CoreV1().Pods("shop").List(context.Background(), metav1.ListOptions{})
		var states []string
		for _, p := range pods.Items {
			states = append(states, fmt.Sprintf("%s %s %s %+v", p.Name, p.Spec.Containers[0].Image, p.Status.Phase, p.Status.ContainerStatuses))
		}
		t.Fatalf("kubelet never reported %s failing; pods:\n%s", version, strings.Join(states, "\n"))
	}
}

// TestZeroDowntimeBlueGreenSwitches: 10 automatically promoted rollouts;
// no request fails, and once a switch is done the new-connection prober
// sees only the new version. (Kept-alive connections stay with the pods
// they reached, so the old version answers them until it is scaled down:
// a blue-green switch without a mesh moves new connections only.)
func TestZeroDowntimeBlueGreenSwitches(t *testing.T) {
	w := newTrafficWorld(t, worldOptions{scaleDownDelay: 3, autoPromotion: true})
	var report []string
	for i := 1; i <= 10; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		w.setImage(t, version)
		w.wait(t, version+" serving, old color scaled down", w.serving(version, true))
		report = append(report, w.check(t, "rollout to "+version, version, "", true))
	}
	t.Logf("traffic per rollout:\n%s", strings.Join(report, "\n"))
}

// TestZeroDowntimeManualPromotionAbortUndo: with manual promotion, traffic
// stays on the old version until promote; abort, undo while the old color
// is warm, and versions that never become ready or crash move no traffic
// and fail no request.
func TestZeroDowntimeManualPromotionAbortUndo(t *testing.T) {
	w := newTrafficWorld(t, worldOptions{scaleDownDelay: 600})
	for i := 1; i <= 3; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		prev := fmt.Sprintf("1.%d.0", i-1)
		w.setImage(t, version)
		w.wait(t, version+" waiting for promotion", phase(v1alpha1.PhasePaused))
		w.check(t, version+" ready, not promoted", prev, version, false)
		var watched func() string
		if i == 1 {
			watched = w.watchWithProbe(t)
		}
		w.rollout(t, "promote")
		w.wait(t, version+" serving", w.serving(version, false))
		w.check(t, "promoted "+version, version, "", false)
		if watched != nil {
			// `rollout status -w --probe` counted the traffic as it moved.
			out := watched()
			traffic := regexp.MustCompile(`(?m)^Traffic: .*$`).FindAllString(out, -1)
			first, last := "", ""
			if len(traffic) > 0 {
				first, last = traffic[0], traffic[len(traffic)-1]
			}
			if !strings.Contains(first, "answered by 1.0.0") || !regexp.MustCompile(`answered by .*1\.1\.0 [1-9]`).MatchString(last) || !regexp.MustCompile(`so far [1-9][0-9]*, 0 failed\)$`).MatchString(last) {
				t.Errorf("rollout status -w --probe: want traffic lines from 1.0.0, then 1.1.0, none failed; got:\n%s", out)
			}
		}
	}
	// undo while 1.2.0 is warm: one selector flip back.
	w.rollout(t, "undo")
	w.wait(t, "back on 1.2.0", w.serving("1.2.0", false))
	w.check(t, "undo to the warm 1.2.0", "1.2.0", "", false)

	// abort before promotion: traffic never moves.
	w.setImage(t, "1.4.0")
	w.wait(t, "1.4.0 waiting for promotion", phase(v1alpha1.PhasePaused))
	w.rollout(t, "abort")
	w.wait(t, "1.4.0 aborted", phase(v1alpha1.PhaseAborted))
	w.check(t, "1.4.0 aborted before promotion", "1.2.0", "1.4.0", false)

	// A version that never becomes ready, then one that crash-loops: traffic
	// stays on 1.2.0 throughout.
	for _, bad := range []string{"1.5.0-broken", "1.6.0-crash"} {
		w.setImage(t, bad)
		w.wait(t, bad+" progressing", phase(v1alpha1.PhaseProgressing))
		w.failedOnNode(t, bad)
		w.rollout(t, "abort")
		w.wait(t, bad+" aborted", phase(v1alpha1.PhaseAborted))
		w.check(t, bad+" never served", "1.2.0", bad, false)
	}
}

// colors returns the rollout's live (active) and idle color status.
func colors(b *v1alpha1.Rollout) (live, idle v1alpha1.ColorStatus) {
	if b.Status.ActiveColor == v1alpha1.Blue {
		return b.Status.Blue, b.Status.Green
	}
	return b.Status.Green, b.Status.Blue
}

// TestZeroDowntimeControlWithoutProtections is the control for the tests
// around it: the same automatically promoted rollouts with every protection
// turned off (a scale-down delay of 0, so no wait for kube-proxy nor for
// the EndpointSlices; no preStop; the stand-in closing its listener and
// every connection the moment SIGTERM comes) fail requests, so the prober
// does see the failures the other tests show absent.
func TestZeroDowntimeControlWithoutProtections(t *testing.T) {
	w := newTrafficWorld(t, worldOptions{autoPromotion: true, env: []corev1.EnvVar{{Name: "STANDIN_DRAIN", Value: "off"}}})
	failed, rollouts := 0, 0
	for i := 1; i <= 5 && failed == 0; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		w.setImage(t, version)
		w.wait(t, version+" serving, old color scaled down", w.serving(version, true))
		for _, p := range []*prober.Prober{w.fresh, w.kept} {
			if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
				last, ok := p.Latest()
				return ok && last.Version == version, nil
			}); err != nil {
				t.Fatalf("%s never answered", version)
			}
		}
		f, k := w.fresh.Take(), w.kept.Take()
		t.Logf("rollout to %s without protections: new connections %s | kept-alive %s", version, f, k)
		failed += f.Failed + k.Failed
		rollouts = i
	}
	if failed == 0 {
		t.Fatalf("no request failed in %d rollouts without protections: the prober is not shown to see failures", rollouts)
	}
	t.Logf("%d requests failed in %d rollouts without protections", failed, rollouts)
}

// TestZeroDowntimeRollbackRevertHPAAndLeaderLoss runs the controller as
// the chart's two pods on the real node, with manual promotion and a
// post-promotion check of the active Service's /health (readiness asks
// /ready, which a regression does not fail). Under 2 x 100 requests/s no
// request fails while: the leader is killed during a switch; a version
// that regresses under production traffic fails its post-promotion check
// and traffic returns to the old version; undo returns to the stable
// revision, then to one whose color was scaled down; a template is
// reverted mid-rollout; an HPA scales the rollout up, then down, each in
// the middle of a rollout (the live color never shrinks while one is in
// flight).
func TestZeroDowntimeRollbackRevertHPAAndLeaderLoss(t *testing.T) {
	health := v1alpha1.AnalysisCheck{Name: "health", IntervalSeconds: 1, Count: 3,
		HTTP: &v1alpha1.HTTPCheck{URL: "http://{{.ActiveService}}.{{.Namespace}}.svc.cluster.local:8000/health"}}
	w := newTrafficWorld(t, worldOptions{scaleDownDelay: 3, inCluster: true, postPromotion: []v1alpha1.AnalysisCheck{health}, readinessPath: "/ready"})
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(w.cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	var report []string
	step := func(line string) { report = append(report, line) }
	promoted := func(version string) {
		w.rollout(t, "promote")
		w.wait(t, version+" serving, old color scaled down", w.serving(version, true))
		step(w.check(t, "promoted "+version, version, "", true))
	}
	paused := func(version, serving string) {
		w.wait(t, version+" waiting for promotion", phase(v1alpha1.PhasePaused))
		step(w.check(t, version+" ready, not promoted", serving, version, true))
	}

	// The leader is killed (no grace) while the switch to 1.1.0 is verified
	// by the post-promotion check; the other replica takes over and ends it.
	w.setImage(t, "1.1.0")
	paused("1.1.0", "1.0.0")
	var first string
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		first = leader(ctx, cs)
		return first != "", nil
	}); err != nil {
		t.Fatal("no controller replica holds the leader lease")
	}
	w.rollout(t, "promote")
	w.wait(t, "switched to 1.1.0, post-promotion check running", func(b *v1alpha1.Rollout) bool {
		return b.Status.PromotedAt != nil && b.Status.ActiveColor != b.Status.StableColor
	})
	if err := cs.CoreV1().Pods("ragdeploy-system").Delete(ctx, first, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		next := leader(ctx, cs)
		return next != "" && next != first, nil
	}); err != nil {
		t.Fatalf("no other replica took over from %s", first)
	}
	w.wait(t, "1.1.0 serving after the leader change", w.serving("1.1.0", true))
	step(w.check(t, "promoted 1.1.0, leader killed during the switch", "1.1.0", "", true))

	// A regression under production traffic: the post-promotion check
	// fails and traffic returns to the warm 1.1.0.
	w.setImage(t, "1.2.0-regress")
	paused("1.2.0-regress", "1.1.0")
	w.rollout(t, "promote")
	w.wait(t, "1.2.0-regress rolled back", func(b *v1alpha1.Rollout) bool {
		return phase(v1alpha1.PhaseAborted)(b) && b.Status.AbortedRevision == b.Status.CurrentRevision
	})
	step(w.check(t, "1.2.0-regress rolled back by its post-promotion check", "1.1.0", "", false))
	var b v1alpha1.Rollout
	if err := w.c.Get(ctx, w.key, &b); err != nil || b.Status.AbortReason != v1alpha1.ReasonPostPromotionFailed {
		t.Fatalf("abort reason %q (err %v); want %s", b.Status.AbortReason, err, v1alpha1.ReasonPostPromotionFailed)
	}

	// undo: back to the stable 1.1.0 (the abort cleared), then to 1.0.0,
	// whose color has been scaled down: it goes through the gates again.
	w.rollout(t, "undo")
	w.wait(t, "back on 1.1.0", w.serving("1.1.0", true))
	step(w.check(t, "undo to the stable 1.1.0", "1.1.0", "", true))
	w.rollout(t, "undo")
	paused("1.0.0", "1.1.0")
	promoted("1.0.0")

	// A template reverted mid-rollout: 1.3.0 never gets traffic.
	w.setImage(t, "1.3.0")
	w.wait(t, "1.3.0 waiting for promotion", phase(v1alpha1.PhasePaused))
	w.setImage(t, "1.0.0")
	w.wait(t, "back on 1.0.0, 1.3.0 scaled down", w.serving("1.0.0", true))
	step(w.check(t, "1.3.0 reverted mid-rollout", "1.0.0", "1.3.0", true))

	// An HPA scales up to 5 in the middle of the rollout of 1.4.0: both
	// colors grow, traffic stays on 1.0.0 until the promotion.
	w.setImage(t, "1.4.0")
	paused("1.4.0", "1.0.0")
	hpa := w.pinReplicas(t, 5)
	w.wait(t, "scaled to 5 by the HPA", func(b *v1alpha1.Rollout) bool {
		live, idle := colors(b)
		return phase(v1alpha1.PhasePaused)(b) && *b.Spec.Replicas == 5 && live.ReadyReplicas == 5 && idle.ReadyReplicas == 5
	})
	step(w.check(t, "HPA scale-up to 5 during the rollout of 1.4.0", "1.0.0", "1.4.0", true))
	promoted("1.4.0")

	// The HPA scales down to 2 in the middle of the rollout of 1.5.0: the
	// live color keeps its 5 until the switch.
	w.setImage(t, "1.5.0")
	paused("1.5.0", "1.4.0")
	if err := w.c.Patch(ctx, hpa, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"minReplicas":2,"maxReplicas":2}}`))); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "HPA at 2, preview at 2, live color kept at 5", func(b *v1alpha1.Rollout) bool {
		live, idle := colors(b)
		return phase(v1alpha1.PhasePaused)(b) && *b.Spec.Replicas == 2 && idle.Replicas == 2 && idle.ReadyReplicas == 2 && live.Replicas == 5 && live.ReadyReplicas == 5
	})
	step(w.check(t, "HPA scale-down to 2 during the rollout of 1.5.0", "1.4.0", "1.5.0", true))
	promoted("1.5.0")
	if err := w.c.Get(ctx, w.key, &b); err != nil {
		t.Fatal(err)
	}
	if live, _ := colors(&b); live.Replicas != 2 || live.ReadyReplicas != 2 {
		t.Fatalf("1.5.0 serves on %d/%d replicas; want the HPA's 2", live.ReadyReplicas, live.Replicas)
	}
	t.Logf("traffic per step:\n%s", strings.Join(report, "\n"))
}
