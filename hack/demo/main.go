// Command demo shows a blue-green rollout on the local cluster: the api runs
// as a BlueGreenDeployment; version 2 goes to the idle colour, passes its
// checks and takes the traffic with the old colour kept warm; version 3
// fails its post-promotion check and is rolled back automatically. It prints
// live progress and a timeline. `make demo` runs it after `ragdeploy local up`
// (which runs the controller next to the control plane).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func main() {
	// A flag set of its own: controller-runtime registers a global --kubeconfig.
	flags := flag.NewFlagSet("demo", flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", ".ragdeploy/local/kubeconfig", "kubeconfig of the local cluster")
	namespace := flags.String("namespace", "demo", "namespace of the demo")
	_ = flags.Parse(os.Args[1:])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *kubeconfig, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

type demo struct {
	c        client.Client
	ns       string
	start    time.Time
	timeline []string
}

// progress prints a line of live progress.
func (d *demo) progress(format string, args ...any) string {
	line := fmt.Sprintf("+%6.1fs  %s", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
	fmt.Println("  " + line)
	return line
}

// milestone prints a line and keeps it for the timeline.
func (d *demo) milestone(format string, args ...any) {
	d.timeline = append(d.timeline, d.progress(format, args...))
}

func run(ctx context.Context, kubeconfig, ns string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return err
	}
	d := &demo{c: c, ns: ns, start: time.Now()}

	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return err
	}
	fmt.Println("== Local cluster")
	for i := range nodes.Items {
		n := &nodes.Items[i]
		fmt.Printf("  %-12s ready=%-5t zone=%s\n", n.Name, localcluster.NodeReady(n), n.Labels["topology.kubernetes.io/zone"])
	}

	// The checks the controller runs: an HTTP health endpoint served by this
	// process on loopback (the controller runs on this machine).
	var healthy atomic.Bool
	healthy.Store(true)
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"degraded"}`))
	}))
	defer health.Close()

	if err := d.reset(ctx); err != nil {
		return err
	}
	fmt.Printf("\n== Version 1: first deploy of the api (3 replicas) in namespace %s\n", ns)
	b := d.bgd(health.URL)
	if err := c.Create(ctx, b); err != nil {
		return err
	}
	if _, err := d.follow(ctx, func(b *v1alpha1.BlueGreenDeployment) bool {
		return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision != ""
	}); err != nil {
		return err
	}

	fmt.Println("\n== Version 2: blue-green rollout (preview, pre-promotion check, switch, old colour kept warm)")
	if err := d.setImage(ctx, "agentic-rag/api:2.0.0"); err != nil {
		return err
	}
	v2, err := d.follow(ctx, func(b *v1alpha1.BlueGreenDeployment) bool {
		return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == b.Status.CurrentRevision && b.Generation == b.Status.ObservedGeneration
	})
	if err != nil {
		return err
	}
	old := v2.Status.StableColor.Other()
	d.milestone("%s keeps %d replicas warm for %ds: rollback is a selector flip", old, colour(v2, old).Replicas, *v2.Spec.ScaleDownDelaySeconds)

	fmt.Println("\n== Version 3: broken release (its health check fails after the switch)")
	if err := d.setImage(ctx, "agentic-rag/api:3.0.0-broken"); err != nil {
		return err
	}
	var switchedAt time.Time
	if _, err := d.follow(ctx, func(b *v1alpha1.BlueGreenDeployment) bool {
		if switchedAt.IsZero() && b.Status.PromotedAt != nil && b.Status.ActiveColor == b.Status.StableColor.Other() {
			switchedAt = time.Now()
			healthy.Store(false)
			d.milestone("health endpoint of the new version now answers 503")
		}
		return b.Status.Phase == v1alpha1.PhaseAborted
	}); err != nil {
		return err
	}
	rolledBack := time.Now()
	v3, err := d.get(ctx)
	if err != nil {
		return err
	}
	d.milestone("rolled back automatically: %s (%s)", v3.Status.AbortReason, v3.Status.AbortMessage)

	fmt.Println("\n== Timeline")
	for _, l := range d.timeline {
		fmt.Println("  " + l)
	}
	fmt.Printf("\n  stable revision %s on %s; failed revision %s retired after the delay\n",
		v3.Status.StableRevision, v3.Status.StableColor, v3.Status.AbortedRevision)
	fmt.Printf("  the broken version took traffic for %.1fs: from the switch, through its failed check, to the automatic rollback\n", rolledBack.Sub(switchedAt).Seconds())
	fmt.Printf("\n  Try: bin/ragdeploy rollout status api -n %s --kubeconfig %s\n", ns, kubeconfig)
	fmt.Printf("       bin/ragdeploy rollout history api -n %s --kubeconfig %s\n", ns, kubeconfig)
	return nil
}

func colour(b *v1alpha1.BlueGreenDeployment, c v1alpha1.Color) v1alpha1.ColorStatus {
	if c == v1alpha1.Blue {
		return b.Status.Blue
	}
	return b.Status.Green
}

// reset deletes an earlier run's objects and creates the namespace and Services.
func (d *demo) reset(ctx context.Context) error {
	old := &v1alpha1.BlueGreenDeployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: d.ns}}
	if err := d.c.Delete(ctx, old); err == nil {
		for {
			if _, err := d.get(ctx); apierrors.IsNotFound(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.ns, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := d.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for _, name := range []string{"api", "api-preview"} {
		// Fresh Services: an earlier run left them selecting its colour.
		_ = d.c.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.ns}})
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": "agentic-rag-api"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")}}},
		}
		if err := d.c.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

func (d *demo) bgd(healthURL string) *v1alpha1.BlueGreenDeployment {
	labels := map[string]string{"app.kubernetes.io/name": "agentic-rag-api"}
	check := func(name string) v1alpha1.AnalysisCheck {
		return v1alpha1.AnalysisCheck{Name: name, Count: 3, IntervalSeconds: 1, HTTP: &v1alpha1.HTTPCheck{
			URL: healthURL + "/health?service={{.PreviewService}}", JSONField: "status", JSONValue: "ok",
		}}
	}
	return &v1alpha1.BlueGreenDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: d.ns},
		Spec: v1alpha1.BlueGreenDeploymentSpec{
			Replicas:              new(int32(3)),
			Selector:              &metav1.LabelSelector{MatchLabels: labels},
			ActiveService:         "api",
			PreviewService:        "api-preview",
			AutoPromotion:         &v1alpha1.AutoPromotion{Enabled: true, AfterSeconds: 1},
			ScaleDownDelaySeconds: new(int32(30)),
			PrePromotionAnalysis:  []v1alpha1.AnalysisCheck{check("smoke")},
			PostPromotionAnalysis: []v1alpha1.AnalysisCheck{check("health")},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{localcluster.AnnotationReadyAfter: "2s"}},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "api", Image: "agentic-rag/api:1.0.0",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: new(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}

func (d *demo) get(ctx context.Context) (*v1alpha1.BlueGreenDeployment, error) {
	var b v1alpha1.BlueGreenDeployment
	err := d.c.Get(ctx, types.NamespacedName{Namespace: d.ns, Name: "api"}, &b)
	return &b, err
}

func (d *demo) setImage(ctx context.Context, image string) error {
	for {
		b, err := d.get(ctx)
		if err != nil {
			return err
		}
		b.Spec.Template.Spec.Containers[0].Image = image
		if err := d.c.Update(ctx, b); err == nil {
			d.milestone("image set to %s", image)
			return nil
		} else if !apierrors.IsConflict(err) {
			return err
		}
	}
}

// follow prints every change of the rollout's summary until done holds.
func (d *demo) follow(ctx context.Context, done func(*v1alpha1.BlueGreenDeployment) bool) (*v1alpha1.BlueGreenDeployment, error) {
	last, activeBefore := "", v1alpha1.Color("")
	if b, err := d.get(ctx); err == nil {
		activeBefore = b.Status.ActiveColor
	}
	for {
		b, err := d.get(ctx)
		if err != nil {
			return nil, err
		}
		line := fmt.Sprintf("%-11s active=%-5s preview=%-5s blue=%d/%d green=%d/%d  %s", b.Status.Phase,
			b.Status.ActiveColor, b.Status.PreviewColor, b.Status.Blue.ReadyReplicas, b.Status.Blue.Replicas,
			b.Status.Green.ReadyReplicas, b.Status.Green.Replicas, b.Status.Message)
		if a := analysisSummary(b); a != "" {
			line += "  [" + a + "]"
		}
		if line != last {
			d.progress("%s", line)
			last = line
		}
		if b.Status.ActiveColor != activeBefore && b.Status.ActiveColor != "" {
			d.milestone("active Service switched %s -> %s", orNone(activeBefore), b.Status.ActiveColor)
			activeBefore = b.Status.ActiveColor
		}
		if done(b) {
			if b.Status.Phase == v1alpha1.PhaseHealthy {
				d.milestone("healthy: revision %s stable on %s", b.Status.StableRevision, b.Status.StableColor)
			}
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rollout did not finish: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orNone(c v1alpha1.Color) string {
	if c == "" {
		return "(none)"
	}
	return string(c)
}

func analysisSummary(b *v1alpha1.BlueGreenDeployment) string {
	var parts []string
	for _, a := range b.Status.Analysis {
		if a.Revision == bluegreen.TemplateRevision(&b.Spec.Template) {
			parts = append(parts, fmt.Sprintf("%s %s %d ok/%d failed", a.Name, a.Result, a.Successes, a.Failures))
		}
	}
	return strings.Join(parts, ", ")
}
