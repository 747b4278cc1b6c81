// Command zerodowntime measures what traffic sees while versions roll out
// and roll back on a real node of the local cluster: a 3-replica api as a
// Rollout (automatic promotion, in-process controller) and, as
// the baseline a user would otherwise have, a plain Deployment with the
// same pods updated by Kubernetes' rolling update. Rounds alternate between
// the two in one cluster. In each round two probers send -rate requests/s
// each to the Service from inside the node's network, one on a new
// connection per request and one on kept-alive connections; the round
// changes the image (rollout), waits until the workload reports the new
// version serving (blue-green: Healthy, the old color still warm; plain:
// the Deployment's rollout complete and its old pods gone) and new
// connections are answered by it, then changes the image back (rollback: while warm, for blue-green)
// and waits until every pod of the rolled-back version is gone. Figures come from the probers'
// records only: failed requests, PATCH -> first answer of the new version
// and -> last answer of the old one, rollback -> last answer of the
// rolled-back version. Figures only, no pass or fail.
//
//	go run ./bench/zerodowntime [-rounds 20] [-rate 100] [-scale-down-delay 5] [-kube-proxy-min-sync 1s] [-drain=false]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/prober"
)

const namespace = "bench"

func main() {
	localcluster.MaybeRunNodeSandbox()
	ctrllog.SetLogger(logr.Discard())
	rounds := flag.Int("rounds", 20, "rollout and rollback rounds of each kind")
	rate := flag.Int("rate", 100, "requests a second of each of the two probers")
	delay := flag.Int("scale-down-delay", 5, "the Rollout's scaleDownDelaySeconds")
	minSync := flag.Duration("kube-proxy-min-sync", localcluster.DefaultKubeProxyMinSyncPeriod, "the real node's kube-proxy minSyncPeriod")
	drain := flag.Bool("drain", true, "the stand-in drains on SIGTERM (false: it closes everything at once, as many servers do)")
	flag.Parse()
	if err := run(*rounds, *rate, int32(*delay), *minSync, *drain); err != nil { //nolint:gosec // G115: a flag of seconds
		fmt.Fprintf(os.Stderr, "bench/zerodowntime: %v\n", err)
		os.Exit(1)
	}
}

// subject is one way of shipping a version: its Service and how to set an
// image and tell that the change is done.
type subject struct {
	name    string
	service string
	// set changes the image.
	set func(ctx context.Context, image string) error
	// done reports whether the workload serves image as it means to:
	// when settled, with no pod of another image left.
	done func(ctx context.Context, image string, settled bool) (bool, error)
	// settleRollout: a rollout is over once it is settled (plain: the old
	// pods are gone), not as soon as it serves (blue-green: switched, the
	// old color kept warm for the rollback).
	settleRollout bool
}

// figures are one subject's results over its rounds (milliseconds).
type figures struct {
	requests, failed          int
	firstNew, lastOld         []float64
	lastOldKept, rollbackLast []float64
	rollbackLastKept          []float64
}

func run(rounds, rate int, delay int32, minSync time.Duration, drain bool) error {
	ctx := context.Background()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Nodes: 1, RealNodes: 1, KubeProxyMinSyncPeriod: minSync})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if err := controller.InstallCRDs(ctx, cluster.RESTConfig); err != nil {
		return err
	}
	stop, err := controller.Start(cluster.RESTConfig, controller.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		return err
	}
	defer func() { _ = stop() }() // a benchmark that ran reports its figures; how the controller ended does not change them
	c, err := client.New(cluster.RESTConfig, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return err
	}
	subjects, err := setUp(ctx, c, delay, drain)
	if err != nil {
		return err
	}
	fmt.Printf("bench/zerodowntime: %d rounds each, 3 replicas on a real node (kube-proxy minSyncPeriod %v), 2 probers x %d requests/s, scale-down delay %ds, stand-in drain %t\n", rounds, minSync, rate, delay, drain)
	results := map[string]*figures{}
	for _, s := range subjects {
		results[s.name] = &figures{}
		if err := waitFor(ctx, func(ctx context.Context) (bool, error) { return s.done(ctx, image(s, 0), true) }); err != nil {
			return fmt.Errorf("%s never served: %w", s.name, err)
		}
	}
	for i := 1; i <= rounds; i++ {
		for _, s := range subjects {
			if err := round(ctx, cluster, c, s, i, rate, results[s.name]); err != nil {
				return fmt.Errorf("%s round %d: %w", s.name, i, err)
			}
		}
	}
	fmt.Println()
	for _, s := range subjects {
		f := results[s.name]
		fmt.Printf("%s: %d requests, %d failed (%.3f%%)\n", s.name, f.requests, f.failed, 100*float64(f.failed)/float64(max(f.requests, 1)))
		report("  rollout: PATCH -> first new-version answer", f.firstNew)
		report("  rollout: PATCH -> last old-version answer (new conns)", f.lastOld)
		report("  rollout: PATCH -> last old-version answer (kept-alive)", f.lastOldKept)
		report("  rollback: PATCH -> last rolled-back answer (new conns)", f.rollbackLast)
		report("  rollback: PATCH -> last rolled-back answer (kept-alive)", f.rollbackLastKept)
		fmt.Println("  (0: no answer from the rolled-back version after the rollback began)")
	}
	fmt.Println("(blue-green moves new connections at the switch; kept-alive ones stay on the warm old color until it scales down, here after the rollback, so they have no rollout sample)")
	bg, plain := results[subjects[0].name], results[subjects[1].name]
	fmt.Printf("\nfailed requests: %s %d, %s %d; rollback -> all new connections on the old version, p50: %.0f ms vs %.0f ms (%.1fx)\n",
		subjects[0].name, bg.failed, subjects[1].name, plain.failed,
		stats.Median(bg.rollbackLast), stats.Median(plain.rollbackLast), stats.Median(plain.rollbackLast)/max(stats.Median(bg.rollbackLast), 1))
	return nil
}

func image(s subject, i int) string { return fmt.Sprintf("agentic-rag/api:%s-%d.0.0", s.name, i) }

// round rolls s out to version i and back to version 0 under two probers.
func round(ctx context.Context, cluster *localcluster.Cluster, c client.Client, s subject, i, rate int, f *figures) error {
	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: s.service}, &svc); err != nil {
		return err
	}
	url := fmt.Sprintf("http://%s:8000/v1/ask", svc.Spec.ClusterIP)
	// Not the probers' first requests: see WaitAnswered.
	if err := cluster.WaitAnswered(ctx, url); err != nil {
		return fmt.Errorf("%s never answered: %w", s.service, err)
	}
	pctx, stopProbers := context.WithCancel(ctx)
	defer stopProbers()
	fresh := prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: rate, Dial: cluster.DialInNode})
	kept := prober.StartHTTP(pctx, prober.HTTPOptions{URL: url, Rate: rate, KeepAlive: true, Dial: cluster.DialInNode})
	// Every round starts from version 0 and goes back to it.
	oldImage, newImage := image(s, 0), image(s, i)
	oldV, newV := version(oldImage), version(newImage)
	if err := answeredBy(ctx, oldV, fresh, kept); err != nil {
		return err
	}

	t0 := time.Now()
	if err := s.set(ctx, newImage); err != nil {
		return err
	}
	if err := waitFor(ctx, func(ctx context.Context) (bool, error) { return s.done(ctx, newImage, s.settleRollout) }); err != nil {
		return fmt.Errorf("rollout to %s: %w", newV, err)
	}
	if err := answeredBy(ctx, newV, fresh); err != nil {
		return err
	}
	t1 := time.Now()
	if err := s.set(ctx, oldImage); err != nil {
		return err
	}
	if err := waitFor(ctx, func(ctx context.Context) (bool, error) { return s.done(ctx, oldImage, true) }); err != nil {
		return fmt.Errorf("rollback to %s: %w", oldV, err)
	}
	if err := answeredBy(ctx, oldV, fresh, kept); err != nil {
		return err
	}
	end := time.Now()
	stopProbers()

	out, back := fresh.Between(t0, t1), fresh.Between(t1, end)
	outKept, backKept := kept.Between(t0, t1), kept.Between(t1, end)
	for _, sum := range []prober.Summary{out, back, outKept, backKept} {
		f.requests += sum.Requests
		f.failed += sum.Failed
	}
	// since is at - from in ms; 0 when at is zero or earlier (nothing of
	// that version answered after from).
	since := func(from time.Time, at time.Time) float64 {
		if at.Before(from) {
			return 0
		}
		return float64(at.Sub(from).Microseconds()) / 1000
	}
	f.firstNew = append(f.firstNew, since(t0, out.Version(newV).First))
	f.lastOld = append(f.lastOld, since(t0, out.Version(oldV).Last))
	// Kept-alive connections stay on a warm color: with blue-green they
	// never reach the new version before the rollback, so have no sample.
	if outKept.Version(newV).Answers > 0 {
		f.lastOldKept = append(f.lastOldKept, since(t0, outKept.Version(oldV).Last))
	}
	f.rollbackLast = append(f.rollbackLast, since(t1, back.Version(newV).Last))
	f.rollbackLastKept = append(f.rollbackLastKept, since(t1, backKept.Version(newV).Last))
	fmt.Printf("%-10s round %2d: rollout %s | %s; rollback %s | %s\n", s.name, i, out, outKept, back, backKept)
	return nil
}

// version is the stand-in's answer for an image: its tag.
func version(image string) string { return image[len("agentic-rag/api:"):] }

// answeredBy waits until each prober's latest answer came from v.
func answeredBy(ctx context.Context, v string, probers ...*prober.Prober) error {
	for _, p := range probers {
		if err := waitFor(ctx, func(context.Context) (bool, error) {
			last, ok := p.Latest()
			return ok && last.Version == v, nil
		}); err != nil {
			return fmt.Errorf("never answered by %s", v)
		}
	}
	return nil
}

func waitFor(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	return wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 3*time.Minute, true, cond)
}

// setUp creates the namespace, the Services and both workloads at version 0.
func setUp(ctx context.Context, c client.Client, delay int32, drain bool) ([]subject, error) {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return nil, err
	}
	for name, app := range map[string]string{"bluegreen": "bluegreen", "bluegreen-preview": "bluegreen", "plain": "plain"} {
		if err := c.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app},
				Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
		}); err != nil {
			return nil, err
		}
	}
	bg := subject{name: "bluegreen", service: "bluegreen"}
	plain := subject{name: "plain", service: "plain", settleRollout: true}
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "bluegreen", Namespace: namespace},
		Spec: v1alpha1.RolloutSpec{
			Replicas: new(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bluegreen"}},
			ActiveService: "bluegreen", PreviewService: "bluegreen-preview",
			Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
				ScaleDownDelaySeconds: new(delay), AutoPromotion: &v1alpha1.AutoPromotion{Enabled: true},
			}},
			Template: podTemplate("bluegreen", image(bg, 0), drain),
		},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "plain"}},
			Template: podTemplate("plain", image(plain, 0), drain),
		},
	}
	for _, o := range []client.Object{b, d} {
		if err := c.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	setImage := func(o client.Object) func(context.Context, string) error {
		return func(ctx context.Context, image string) error {
			patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, image)
			return c.Patch(ctx, o, client.RawPatch(types.JSONPatchType, []byte(patch)))
		}
	}
	bg.set, plain.set = setImage(b.DeepCopy()), setImage(d.DeepCopy())
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: namespace, Name: name} }
	bg.done = func(ctx context.Context, image string, settled bool) (bool, error) {
		var b v1alpha1.Rollout
		if err := c.Get(ctx, key("bluegreen"), &b); err != nil {
			return false, nil
		}
		idle := b.Status.Blue
		if b.Status.ActiveColor == v1alpha1.Blue {
			idle = b.Status.Green
		}
		serving := b.Status.ObservedGeneration == b.Generation && b.Status.Phase == v1alpha1.PhaseHealthy &&
			b.Status.StableRevision == b.Status.CurrentRevision && b.Spec.Template.Spec.Containers[0].Image == image
		if !settled {
			return serving, nil
		}
		return serving && idle.Replicas == 0 && onlyPodsOf(ctx, c, "bluegreen", image), nil
	}
	plain.done = func(ctx context.Context, image string, settled bool) (bool, error) {
		var d appsv1.Deployment
		if err := c.Get(ctx, key("plain"), &d); err != nil {
			return false, nil
		}
		st := d.Status
		complete := st.ObservedGeneration == d.Generation && d.Spec.Template.Spec.Containers[0].Image == image &&
			st.UpdatedReplicas == 3 && st.Replicas == 3 && st.AvailableReplicas == 3
		return complete && (!settled || onlyPodsOf(ctx, c, "plain", image)), nil
	}
	return []subject{bg, plain}, nil
}

// onlyPodsOf reports whether every pod of app, terminating ones included,
// runs image.
func onlyPodsOf(ctx context.Context, c client.Client, app, image string) bool {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{"app": app}); err != nil {
		return false
	}
	return !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool { return p.Spec.Containers[0].Image != image })
}

// podTemplate is the same pod for both subjects: the api stand-in on the
// real node, ready on /health, with no preStop pause, and its one-second
// drain unless drain is false.
func podTemplate(app, image string, drain bool) corev1.PodTemplateSpec {
	var env []corev1.EnvVar
	if !drain {
		env = []corev1.EnvVar{{Name: "STANDIN_DRAIN", Value: "off"}}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{localcluster.RealNodeLabel: "real"},
			Tolerations:  []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "api", Image: image, Env: env,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1},
			}},
		},
	}
}

func report(what string, ms []float64) {
	if len(ms) == 0 {
		fmt.Printf("%-58s no samples\n", what)
		return
	}
	fmt.Printf("%-58s n=%d p50 %.0f  p99 %.0f  max %.0f ms\n", what, len(ms), stats.Median(ms), stats.Percentile(ms, 0.99), slices.Max(ms))
}
