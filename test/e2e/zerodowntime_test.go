package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/prober"
)

// TestZeroDowntimeBlueGreenSwitches rolls a 3-replica api on the real node
// through 10 blue-green versions while two probers send 100 requests/s each
// to its active Service from inside the node's network, one on a new
// connection per request, one on kept-alive connections. No request may
// fail, and once a switch is done the new-connection prober sees only the
// new version. (Kept-alive connections stay with the pods they reached, so
// the old version answers them until it is scaled down: a blue-green
// switch without a mesh moves new connections only.)
func TestZeroDowntimeBlueGreenSwitches(t *testing.T) {
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
	stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "api-preview"} {
		if err := c.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"},
				Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	image := func(v string) string { return "agentic-rag/api:" + v }
	b := &v1alpha1.BlueGreenDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.BlueGreenDeploymentSpec{
			Replicas:              new(int32(3)),
			Selector:              &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			ActiveService:         "api",
			PreviewService:        "api-preview",
			ScaleDownDelaySeconds: new(int32(3)),
			AutoPromotion:         &v1alpha1.AutoPromotion{Enabled: true},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{localcluster.RealNodeLabel: "real"},
					Tolerations:  []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "api", Image: image("1.0.0"),
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if err := c.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "shop", Name: "api"}
	// done: the version serves with every replica ready and the other
	// colour scaled to 0.
	done := func(version string) func(*v1alpha1.BlueGreenDeployment) bool {
		return func(b *v1alpha1.BlueGreenDeployment) bool {
			other := b.Status.Blue
			if b.Status.ActiveColor == v1alpha1.Blue {
				other = b.Status.Green
			}
			return b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == b.Status.CurrentRevision &&
				b.Spec.Template.Spec.Containers[0].Image == image(version) && other.Replicas == 0
		}
	}
	waitFor(ctx, t, c, key, "1.0.0 healthy", done("1.0.0"))

	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "api"}, &svc); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:8000/v1/ask", svc.Spec.ClusterIP)
	pctx, stopProbers := context.WithCancel(ctx)
	defer stopProbers()
	fresh := prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, Dial: cluster.DialInNode})
	kept := prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: 100, KeepAlive: true, Dial: cluster.DialInNode})

	var report []string
	for i := 1; i <= 10; i++ {
		version := fmt.Sprintf("1.%d.0", i)
		patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"api","image":%q}]}}}}`, image(version))
		if err := c.Patch(ctx, &v1alpha1.BlueGreenDeployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}}, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		waitFor(ctx, t, c, key, version+" healthy, old colour scaled down", done(version))
		f, k := fresh.Take(), kept.Take()
		report = append(report, fmt.Sprintf("%s: new connections %s | kept-alive %s", version, f, k))
		t.Log(report[len(report)-1])
		if f.Failed > 0 || k.Failed > 0 {
			t.Errorf("rollout to %s: %d and %d requests failed (new connections: %s; kept-alive: %s)", version, f.Failed, k.Failed, f.LastError, k.LastError)
		}
		// After the switch, new connections reach only the new version.
		if n := f.Version(version); n.Answers == 0 {
			t.Errorf("rollout to %s: no answer from it", version)
		} else {
			for _, v := range f.Versions {
				if v.Version != version && v.Last.After(n.First.Add(time.Second)) {
					t.Errorf("rollout to %s: %s still answered new connections %v after the first answer from %s", version, v.Version, v.Last.Sub(n.First), version)
				}
			}
		}
	}
	stopProbers()
	t.Logf("traffic per rollout:\n%s", strings.Join(report, "\n"))
}

// waitFor watches the rollout until cond holds.
func waitFor(ctx context.Context, t *testing.T, c client.WithWatch, key types.NamespacedName, what string, cond func(*v1alpha1.BlueGreenDeployment) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var b v1alpha1.BlueGreenDeployment
	w, err := c.Watch(ctx, &v1alpha1.BlueGreenDeploymentList{}, client.InNamespace(key.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := c.Get(ctx, key, &b); err == nil && cond(&b) {
		return
	}
	for ev := range w.ResultChan() {
		if got, ok := ev.Object.(*v1alpha1.BlueGreenDeployment); ok && got.Name == key.Name && cond(got) {
			return
		}
	}
	_ = c.Get(context.Background(), key, &b)
	t.Fatalf("rollout never %s: phase %s, %s", what, b.Status.Phase, b.Status.Message)
}
