package controller_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/controller"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	release.UseHelmFieldManager()
	clustertest.Main(m)
}

var crdOnce sync.Once

// scenario is one test's namespace, client and running controller.
type scenario struct {
	t    *testing.T
	env  *clustertest.Env
	c    client.Client
	stop func() error
	name string
}

// newScenario installs the CRDs (once), starts a controller limited to a
// fresh namespace and creates the active and preview Services.
func newScenario(t *testing.T) *scenario {
	t.Helper()
	env := clustertest.New(t)
	var crdErr error
	crdOnce.Do(func() { crdErr = controller.InstallCRDs(context.Background(), env.Config) })
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	c, err := client.New(env.Config, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, env: env, c: c, name: "api"}
	s.startController()
	t.Cleanup(s.stopController)
	for _, name := range []string{"api", "api-preview"} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "api"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromInt32(8000)}},
			},
		}
		if err := c.Create(t.Context(), svc); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *scenario) startController() {
	s.t.Helper()
	stop, err := controller.Start(s.env.Config, controller.Options{
		MetricsAddr: "0", ProbeAddr: "0", Namespace: s.env.Namespace, MultipleInProcess: true,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.stop = stop
}

// stopController returns once the controller has stopped.
func (s *scenario) stopController() {
	if s.stop != nil {
		if err := s.stop(); err != nil {
			s.t.Errorf("controller: %v", err)
		}
		s.stop = nil
	}
}

// rollout is a Rollout of image with 3 replicas; mutate adjusts it.
func (s *scenario) rollout(image string, mutate func(*v1alpha1.Rollout)) *v1alpha1.Rollout {
	b := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.env.Namespace},
		Spec: v1alpha1.RolloutSpec{
			Replicas:       new(int32(3)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			ActiveService:  "api",
			PreviewService: "api-preview",
			Strategy: v1alpha1.Strategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
				AutoPromotion: &v1alpha1.AutoPromotion{Enabled: true}, ScaleDownDelaySeconds: new(int32(3)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "api", Image: image, Ports: []corev1.ContainerPort{{ContainerPort: 8000}},
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(b)
	}
	return b
}

// create stores b and returns its revision as the controller computes it
// (from the stored template, with the API server's defaults).
func (s *scenario) create(b *v1alpha1.Rollout) string {
	s.t.Helper()
	if err := s.c.Create(s.t.Context(), b); err != nil {
		s.t.Fatal(err)
	}
	return bluegreen.TemplateRevision(&b.Spec.Template)
}

func (s *scenario) get() *v1alpha1.Rollout {
	s.t.Helper()
	var b v1alpha1.Rollout
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, &b); err != nil {
		s.t.Fatal(err)
	}
	return &b
}

// update changes the spec with retries on conflict.
func (s *scenario) update(mutate func(*v1alpha1.Rollout)) {
	s.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		b := s.get()
		mutate(b)
		return s.c.Update(s.t.Context(), b)
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// patchStatus merges a status patch, as `ragdeploy rollout` commands do.
func (s *scenario) patchStatus(patch []byte) {
	s.t.Helper()
	if err := s.c.Status().Patch(s.t.Context(), s.get(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		s.t.Fatal(err)
	}
}

// setImage changes the template's image and returns the new revision.
func (s *scenario) setImage(image string, annotations map[string]string) string {
	s.update(func(b *v1alpha1.Rollout) {
		b.Spec.Template.Spec.Containers[0].Image = image
		b.Spec.Template.Annotations = annotations
	})
	return bluegreen.TemplateRevision(&s.get().Spec.Template)
}

// waitFor polls the Rollout until cond holds.
func (s *scenario) waitFor(what string, timeout time.Duration, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	s.t.Helper()
	var last *v1alpha1.Rollout
	clustertest.Eventually(s.t, timeout, what, func(ctx context.Context) (bool, error) {
		var b v1alpha1.Rollout
		if err := s.c.Get(ctx, types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, &b); err != nil {
			return false, err
		}
		last = &b
		if cond(&b) {
			return true, nil
		}
		return false, fmt.Errorf("phase %s (%s) stable %s/%s active %s", b.Status.Phase, b.Status.Message, b.Status.StableColor, b.Status.StableRevision, b.Status.ActiveColor)
	})
	return last
}

// healthyOn waits until rev is stable and serving on a Healthy rollout.
func (s *scenario) healthyOn(rev string, timeout time.Duration) *v1alpha1.Rollout {
	s.t.Helper()
	return s.waitFor("healthy on "+rev, timeout, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseHealthy && b.Status.StableRevision == rev && b.Status.ActiveColor == b.Status.StableColor
	})
}

// serviceColor is the color a Service selects.
func (s *scenario) serviceColor(name string) v1alpha1.Color {
	s.t.Helper()
	var svc corev1.Service
	if err := s.c.Get(context.Background(), types.NamespacedName{Namespace: s.env.Namespace, Name: name}, &svc); err != nil {
		s.t.Fatal(err)
	}
	return v1alpha1.Color(svc.Spec.Selector[bluegreen.LabelColor])
}

// selects waits until Service name selects color. The controller writes a
// rollout's status before it switches the Service back (an abort is never
// made without its record) and after it switches it forward (a promotion
// marks the Service), so a status just seen can be a moment ahead of the
// Service; it reports whether the Service got there within 10 s.
func (s *scenario) selects(name string, color v1alpha1.Color) bool {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		return s.serviceColor(name) == color, nil
	}) == nil
}

// moves watches Service name's color selector from now on; the function it
// returns ends the watch and lists, in order, every color the selector was
// changed to meanwhile (as the API server recorded it, none missed).
func (s *scenario) moves(name string) func() []v1alpha1.Color {
	s.t.Helper()
	services := s.env.Client.CoreV1().Services(s.env.Namespace)
	svc, err := services.Get(s.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	w, err := services.Watch(s.t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: svc.ResourceVersion})
	if err != nil {
		s.t.Fatal(err)
	}
	last := v1alpha1.Color(svc.Spec.Selector[bluegreen.LabelColor])
	var moved []v1alpha1.Color
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if svc, ok := ev.Object.(*corev1.Service); ok {
				if c := v1alpha1.Color(svc.Spec.Selector[bluegreen.LabelColor]); c != last {
					moved, last = append(moved, c), c
				}
			}
		}
	}()
	return func() []v1alpha1.Color {
		w.Stop()
		<-done
		return moved
	}
}

// replicas is the spec.replicas of a color's Deployment (-1 when absent).
func (s *scenario) replicas(c v1alpha1.Color) int32 {
	s.t.Helper()
	d, err := s.env.Client.AppsV1().Deployments(s.env.Namespace).Get(context.Background(), bluegreen.DeploymentName(s.name, c), metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return *d.Spec.Replicas
}

// getQuiet reads the Rollout without failing the test.
func (s *scenario) getQuiet(ctx context.Context) *v1alpha1.Rollout {
	var b v1alpha1.Rollout
	if err := s.c.Get(ctx, types.NamespacedName{Namespace: s.env.Namespace, Name: s.name}, &b); err != nil {
		return nil
	}
	return &b
}

// resize sets the replicas through the scale subresource, as an HPA does.
func (s *scenario) resize(n int32) {
	s.t.Helper()
	scale := &autoscalingv1.Scale{}
	if err := s.c.SubResource("scale").Get(s.t.Context(), s.get(), scale); err != nil {
		s.t.Fatal(err)
	}
	scale.Spec.Replicas = n
	if err := s.c.SubResource("scale").Update(s.t.Context(), s.get(), scaleBody(scale)); err != nil {
		s.t.Fatal(err)
	}
}

// scaleBody sends a Scale as the body of a scale subresource update.
func scaleBody(s *autoscalingv1.Scale) client.SubResourceUpdateOption {
	return &client.SubResourceUpdateOptions{SubResourceBody: s}
}

// abortedBackOn waits until rev is aborted for reason and checks that stable
// is still the stable revision and the active Service is back on blue.
func (s *scenario) abortedBackOn(rev, reason, stable string) *v1alpha1.Rollout {
	s.t.Helper()
	got := s.waitFor("aborted: "+reason, 30*time.Second, func(b *v1alpha1.Rollout) bool {
		return b.Status.Phase == v1alpha1.PhaseAborted && b.Status.AbortedRevision == rev
	})
	if got.Status.AbortReason != reason || got.Status.StableRevision != stable {
		s.t.Fatalf("abort reason %q, stable %s; want %s with %s still stable", got.Status.AbortReason, got.Status.StableRevision, reason, stable)
	}
	if !s.selects("api", v1alpha1.Blue) {
		s.t.Fatalf("active Service on %s; want blue", s.serviceColor("api"))
	}
	return got
}
