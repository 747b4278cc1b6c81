package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"golang.org/x/sync/errgroup"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

const scaleNS = "scale"

type scaleFigures struct {
	// patchToSwitch per rollout: its patch answered to its active Service
	// seen on the new color, in three parts: patchToTemplated, to its idle
	// color's Deployment seen on the new revision (the controller);
	// templatedToReady, from there to its new pod seen Ready (the control
	// plane and the nodes); readyToSwitch, from there to the switch (the
	// controller).
	patchToSwitch, patchToTemplated, templatedToReady, readyToSwitch []float64
	// lastSwitch: the first patch answered to the last switch seen.
	lastSwitch time.Duration
	peakRSS    float64
}

// fleet follows the Rollouts, Services, Deployments and pods of one
// namespace from watch events: which Rollouts are stable, when each
// rollout's Service first selected the color it should switch to, and when
// a Deployment and a Ready pod of each revision were first seen.
type fleet struct {
	mu   sync.Mutex
	cond *sync.Cond
	// stable: the Rollouts Healthy on their template's revision (revs:
	// each one's template revision, of generation revGen).
	stable map[string]bool
	revs   map[string]string
	revGen map[string]int64
	// target: the color each rollout should switch to; patchedAt and
	// newRev: when its patch was answered (under load the Rollout watch
	// lags the Service watch, so the patch's own answer dates it) and the
	// revision it patched to; switchedAt: when its Service was first seen
	// on the target color.
	target     map[string]string
	colors     map[string]string
	patchedAt  map[string]time.Time
	newRev     map[string]string
	switchedAt map[string]time.Time
	// templatedAt, readyAt: when a Deployment of each rollout's revision
	// was first seen, and a pod of it first seen Ready.
	templatedAt, readyAt map[string]map[string]time.Time
}

func (h *harness) watchFleet(ctx context.Context, namespace string) (*fleet, error) {
	f := &fleet{stable: map[string]bool{}, revs: map[string]string{}, revGen: map[string]int64{}, target: map[string]string{},
		colors: map[string]string{}, patchedAt: map[string]time.Time{}, newRev: map[string]string{}, switchedAt: map[string]time.Time{},
		templatedAt: map[string]map[string]time.Time{}, readyAt: map[string]map[string]time.Time{}}
	f.cond = sync.NewCond(&f.mu)
	var list v1alpha1.RolloutList
	rw, err := h.c.Watch(ctx, &list, client.InNamespace(namespace))
	if err != nil {
		return nil, err
	}
	sw, err := h.cs.CoreV1().Services(namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pw, err := h.cs.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	dw, err := h.cs.AppsV1().Deployments(namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range []watch.Interface{rw, sw, pw, dw} {
		go func() {
			for ev := range w.ResultChan() {
				f.seen(ev, time.Now())
			}
		}()
	}
	return f, nil
}

func (f *fleet) seen(ev watch.Event, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch obj := ev.Object.(type) {
	case *v1alpha1.Rollout:
		if f.revGen[obj.Name] != obj.Generation {
			f.revs[obj.Name], f.revGen[obj.Name] = bluegreen.TemplateRevision(&obj.Spec.Template), obj.Generation
		}
		f.stable[obj.Name] = obj.Status.Phase == v1alpha1.PhaseHealthy && obj.Status.StableRevision == f.revs[obj.Name]
		f.colors[obj.Name] = string(obj.Status.StableColor)
	case *corev1.Service:
		if t, ok := f.target[obj.Name]; ok && obj.Spec.Selector[bluegreen.LabelColor] == t && f.switchedAt[obj.Name].IsZero() {
			f.switchedAt[obj.Name] = now
		}
	case *appsv1.Deployment:
		firstSeen(f.templatedAt, obj.Labels[bluegreen.LabelName], obj.Annotations[bluegreen.AnnotationRevision], now)
	case *corev1.Pod:
		name, rev := obj.Labels[bluegreen.LabelName], obj.Labels[bluegreen.LabelRevision]
		if name == "" {
			name, rev = obj.Labels["app"], obj.Labels[baselineRevision]
		}
		if objects.PodReady(obj) {
			firstSeen(f.readyAt, name, rev, now)
		}
	}
	f.cond.Broadcast()
}

// patchAll patches objects 0..n-1 all at once (as many patches in flight as
// a busy API server takes, not one after another), recording when each
// patch to the revision it returns was answered.
func (f *fleet) patchAll(ctx context.Context, n int, patch func(ctx context.Context, i int) (rev string, err error)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			rev, err := patch(gctx, i)
			if err != nil {
				return err
			}
			f.patched(scaleName(i), rev, time.Now())
			return nil
		})
	}
	return g.Wait()
}

func scaleName(i int) string { return fmt.Sprintf("svc-%04d", i) }

// firstSeen records when rollout name's revision rev was first seen in m.
func firstSeen(m map[string]map[string]time.Time, name, rev string, now time.Time) {
	if name == "" {
		return
	}
	if m[name] == nil {
		m[name] = map[string]time.Time{}
	}
	if _, seen := m[name][rev]; !seen {
		m[name][rev] = now
	}
}

// patched records when name's patch to revision rev was answered.
func (f *fleet) patched(name, rev string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patchedAt[name], f.newRev[name] = at, rev
}

// span is the time from the first patch answered to the last of the
// patched objects' end times (f.mu held).
func (f *fleet) span(end func(name string) time.Time) time.Duration {
	var first, last time.Time
	for name, patched := range f.patchedAt {
		if first.IsZero() || patched.Before(first) {
			first = patched
		}
		if at := end(name); at.After(last) {
			last = at
		}
	}
	return last.Sub(first)
}

// until waits, up to timeout, for done to hold of the fleet.
func (f *fleet) until(ctx context.Context, timeout time.Duration, what string, done func() (bool, string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, f.cond.Broadcast)
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		ok, progress := done()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %s after %v", what, progress, timeout)
		}
		f.cond.Wait()
	}
}

// scaleRun creates n blue-green Rollouts of one replica, waits until all
// are stable, then changes all their images at once (one patch after
// another, as fast as the API server takes them) and times, for each, its
// patch to its active Service on the new color, sampling the controller's
// resident memory throughout.
func (h *harness) scaleRun(ctx context.Context, n int, ctrl *controllerProcess) (scaleFigures, error) {
	var out scaleFigures
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var peakMu sync.Mutex
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for sampling.Err() == nil {
			rss := ctrl.rssMiB()
			peakMu.Lock()
			out.peakRSS = max(out.peakRSS, rss)
			peakMu.Unlock()
			select {
			case <-t.C:
			case <-sampling.Done():
			}
		}
	}()
	f, err := h.watchFleet(ctx, scaleNS)
	if err != nil {
		return out, err
	}
	name := scaleName
	for i := range n {
		if err := h.service(ctx, scaleNS, name(i), name(i)); err != nil {
			return out, err
		}
		if err := h.c.Create(ctx, newRollout(scaleNS, name(i), 1, nil)); err != nil {
			return out, err
		}
	}
	err = f.until(ctx, 15*time.Minute, fmt.Sprintf("%d Rollouts stable", n), func() (bool, string) {
		stable := 0
		for _, ok := range f.stable {
			if ok {
				stable++
			}
		}
		return stable == n, fmt.Sprintf("%d of %d stable", stable, n)
	})
	if err != nil {
		return out, err
	}
	f.mu.Lock()
	for name := range f.revGen {
		f.target[name] = string(v1alpha1.Color(f.colors[name]).Other())
	}
	f.mu.Unlock()
	err = f.patchAll(ctx, n, func(ctx context.Context, i int) (string, error) {
		return h.setImage(ctx, scaleNS, name(i), "agentic-rag/api:1")
	})
	if err != nil {
		return out, err
	}
	// Each watch delivers in its own time: wait for the pods' too.
	err = f.until(ctx, 15*time.Minute, fmt.Sprintf("%d Rollouts switched", n), func() (bool, string) {
		seen := 0
		for name, rev := range f.newRev {
			_, templated := f.templatedAt[name][rev]
			if _, ready := f.readyAt[name][rev]; ready && templated {
				seen++
			}
		}
		return len(f.switchedAt) == n && seen == n, fmt.Sprintf("%d of %d switched, %d new Deployments and pods seen", len(f.switchedAt), n, seen)
	})
	stopSampling()
	if err != nil {
		return out, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, at := range f.switchedAt {
		patched := f.patchedAt[name]
		if patched.IsZero() {
			return out, fmt.Errorf("%s: switched without a patch", name)
		}
		out.patchToSwitch = append(out.patchToSwitch, ms(at.Sub(patched)))
		templated, ready := f.templatedAt[name][f.newRev[name]], f.readyAt[name][f.newRev[name]]
		out.patchToTemplated = append(out.patchToTemplated, ms(templated.Sub(patched)))
		out.templatedToReady = append(out.templatedToReady, ms(ready.Sub(templated)))
		out.readyToSwitch = append(out.readyToSwitch, ms(at.Sub(ready)))
	}
	out.lastSwitch = f.span(func(name string) time.Time { return f.switchedAt[name] })
	peakMu.Lock()
	defer peakMu.Unlock()
	return out, nil
}

// baselineNS holds the plain Deployments of the scale run's baseline, whose
// pods carry their revision in label baselineRevision (not the
// controller's labels: its cache and watches leave them out).
const (
	baselineNS       = "scale-baseline"
	baselineRevision = "bench.ragdeploy.io/revision"
)

// baselineRun is the scale run without a rollout controller: n one-replica
// Deployments (labeled and updated as the controller does a color: all
// pods replaced at once) have their images patched at once, and each
// patch is timed to its new pod seen Ready. It is what the control plane
// and the nodes take for the same change; their namespace is deleted
// before it returns.
func (h *harness) baselineRun(ctx context.Context, n int) (patchToReady []float64, last time.Duration, err error) {
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: baselineNS}}); err != nil {
		return nil, 0, err
	}
	defer func() {
		err = errors.Join(err, h.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: baselineNS}}))
	}()
	watching, stop := context.WithCancel(ctx)
	defer stop()
	f, err := h.watchFleet(watching, baselineNS)
	if err != nil {
		return nil, 0, err
	}
	all := intstr.FromString("100%")
	for i := range n {
		labels := map[string]string{"app": scaleName(i), baselineRevision: "0"}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: scaleName(i), Namespace: baselineNS},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": scaleName(i)}},
				Strategy: appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &all, MaxUnavailable: &all}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "agentic-rag/api:0"}}},
				},
			},
		}
		if err := h.c.Create(ctx, d); err != nil {
			return nil, 0, err
		}
	}
	seen := func(rev string) func() (bool, string) {
		return func() (bool, string) {
			ready := 0
			for _, revs := range f.readyAt {
				if _, ok := revs[rev]; ok {
					ready++
				}
			}
			return ready == n, fmt.Sprintf("%d of %d pods of revision %s seen Ready", ready, n, rev)
		}
	}
	if err := f.until(ctx, 15*time.Minute, "baseline Deployments ready", seen("0")); err != nil {
		return nil, 0, err
	}
	patch := []byte(`{"spec":{"template":{"metadata":{"labels":{"` + baselineRevision + `":"1"}},"spec":{"containers":[{"name":"api","image":"agentic-rag/api:1"}]}}}}`)
	err = f.patchAll(ctx, n, func(ctx context.Context, i int) (string, error) {
		_, err := h.cs.AppsV1().Deployments(baselineNS).Patch(ctx, scaleName(i), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return "1", err
	})
	if err != nil {
		return nil, 0, err
	}
	if err := f.until(ctx, 15*time.Minute, "baseline Deployments updated", seen("1")); err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ready := func(name string) time.Time { return f.readyAt[name]["1"] }
	for name, patched := range f.patchedAt {
		patchToReady = append(patchToReady, ms(ready(name).Sub(patched)))
	}
	return patchToReady, f.span(ready), nil
}
