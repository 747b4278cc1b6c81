package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
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

func newTrafficWorld(t *testing.T, scaleDownDelay int32, autoPromotion bool) *trafficWorld {
	t.Helper()
	requireRealNodes(t)
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, Nodes: 1, RealNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	ctx := t.Context()
	if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(cluster.RESTConfig, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0", MultipleInProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	shopServices(ctx, t, c)
	b := &v1alpha1.BlueGreenDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.BlueGreenDeploymentSpec{
			Replicas:              new(int32(3)),
			Selector:              &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			ActiveService:         "api",
			PreviewService:        "api-preview",
			ScaleDownDelaySeconds: new(scaleDownDelay),
			AutoPromotion:         &v1alpha1.AutoPromotion{Enabled: autoPromotion},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{localcluster.RealNodeLabel: "real"},
					Tolerations:  []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "api", Image: apiImage("1.0.0"),
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1},
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
	// has programmed it, which can be a moment after its pods are Ready.
	httpc := &http.Client{Transport: &http.Transport{DialContext: cluster.DialInNode, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		resp, err := httpc.Get(url) //nolint:noctx // bounded by the client's timeout
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		t.Fatalf("the api Service never answered: %v", err)
	}
	pctx, stopProbers := context.WithCancel(context.Background())
	t.Cleanup(stopProbers)
	w.fresh = prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, Dial: cluster.DialInNode})
	w.kept = prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, KeepAlive: true, Dial: cluster.DialInNode})
	return w
}

// serving: the rollout has seen its spec, is Healthy on version with every
// replica ready, and (when scaledDown) the other colour has 0 replicas.
func (w *trafficWorld) serving(version string, scaledDown bool) func(*v1alpha1.BlueGreenDeployment) bool {
	return func(b *v1alpha1.BlueGreenDeployment) bool {
		other := b.Status.Blue
		if b.Status.ActiveColor == v1alpha1.Blue {
			other = b.Status.Green
		}
		return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseHealthy &&
			b.Status.StableRevision == b.Status.CurrentRevision && b.Spec.Template.Spec.Containers[0].Image == apiImage(version) &&
			(!scaledDown || other.Replicas == 0)
	}
}

// phase: the rollout has seen its spec and is in phase p.
func phase(p v1alpha1.Phase) func(*v1alpha1.BlueGreenDeployment) bool {
	return func(b *v1alpha1.BlueGreenDeployment) bool {
		return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == p
	}
}

func (w *trafficWorld) setImage(t *testing.T, version string) {
	t.Helper()
	// A JSON patch of the image alone (a merge patch would replace the
	// containers list, probes and all).
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, apiImage(version))
	if err := w.c.Patch(t.Context(), &v1alpha1.BlueGreenDeployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}}, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
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

// wait watches the rollout until cond holds.
func (w *trafficWorld) wait(t *testing.T, what string, cond func(*v1alpha1.BlueGreenDeployment) bool) {
	t.Helper()
	watchRollout(t.Context(), t, w.c, w.key, what, cond)
}

// watchRollout watches a rollout until cond holds (within 2 minutes). The
// watch starts before the first read, so no change between them is missed.
func watchRollout(ctx context.Context, t *testing.T, c client.WithWatch, key types.NamespacedName, what string, cond func(*v1alpha1.BlueGreenDeployment) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var b v1alpha1.BlueGreenDeployment
	watch, err := c.Watch(ctx, &v1alpha1.BlueGreenDeploymentList{}, client.InNamespace(key.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	if err := c.Get(ctx, key, &b); err == nil && cond(&b) {
		return
	}
	for ev := range watch.ResultChan() {
		if got, ok := ev.Object.(*v1alpha1.BlueGreenDeployment); ok && got.Name == key.Name && cond(got) {
			return
		}
	}
	_ = c.Get(context.Background(), key, &b)
	t.Fatalf("rollout never %s: phase %s, %s", what, b.Status.Phase, b.Status.Message)
}

// check waits until new connections are answered by want, then takes
// both probers' traffic since the last check: no request failed, forbidden
// (when set) never answered, and no other version answered new
// connections later than a second after want's first answer (the tail of
// the switch before). It returns the line for the test's report.
func (w *trafficWorld) check(t *testing.T, step, want, forbidden string) string {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last, ok := w.fresh.Latest()
		return ok && last.Version == want, nil
	}); err != nil {
		t.Errorf("%s: new connections never answered by %s", step, want)
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
	n := f.Version(want)
	for _, v := range f.Versions {
		if v.Version != want && v.Last.After(n.First.Add(time.Second)) {
			t.Errorf("%s: %s answered new connections %v after the first answer from %s", step, v.Version, v.Last.Sub(n.First), want)
		}
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
	w := newTrafficWorld(t, 3, true)
	var report []string
	for i := 1; i <= 10; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		w.setImage(t, version)
		w.wait(t, version+" serving, old colour scaled down", w.serving(version, true))
		report = append(report, w.check(t, "rollout to "+version, version, ""))
	}
	t.Logf("traffic per rollout:\n%s", strings.Join(report, "\n"))
}

// TestZeroDowntimeManualPromotionAbortUndo: with manual promotion, traffic
// stays on the old version until promote; abort, undo while the old colour
// is warm, and versions that never become ready or crash move no traffic
// and fail no request.
func TestZeroDowntimeManualPromotionAbortUndo(t *testing.T) {
	w := newTrafficWorld(t, 600, false)
	for i := 1; i <= 3; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		prev := fmt.Sprintf("1.%d.0", i-1)
		w.setImage(t, version)
		w.wait(t, version+" waiting for promotion", phase(v1alpha1.PhasePaused))
		w.check(t, version+" ready, not promoted", prev, version)
		w.rollout(t, "promote")
		w.wait(t, version+" serving", w.serving(version, false))
		w.check(t, "promoted "+version, version, "")
	}
	// undo while 1.2.0 is warm: one selector flip back.
	w.rollout(t, "undo")
	w.wait(t, "back on 1.2.0", w.serving("1.2.0", false))
	w.check(t, "undo to the warm 1.2.0", "1.2.0", "")

	// abort before promotion: traffic never moves.
	w.setImage(t, "1.4.0")
	w.wait(t, "1.4.0 waiting for promotion", phase(v1alpha1.PhasePaused))
	w.rollout(t, "abort")
	w.wait(t, "1.4.0 aborted", phase(v1alpha1.PhaseAborted))
	w.check(t, "1.4.0 aborted before promotion", "1.2.0", "1.4.0")

	// A version that never becomes ready, then one that crash-loops: traffic
	// stays on 1.2.0 throughout.
	for _, bad := range []string{"1.5.0-broken", "1.6.0-crash"} {
		w.setImage(t, bad)
		w.wait(t, bad+" progressing", phase(v1alpha1.PhaseProgressing))
		w.failedOnNode(t, bad)
		w.rollout(t, "abort")
		w.wait(t, bad+" aborted", phase(v1alpha1.PhaseAborted))
		w.check(t, bad+" never served", "1.2.0", bad)
	}
}
