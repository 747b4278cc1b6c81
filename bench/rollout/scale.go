package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"golang.org/x/sync/errgroup"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

const scaleNS = "scale"

type scaleFigures struct {
	// patchToSwitch per rollout: its patch answered to its active Service
	// seen on the new color.
	patchToSwitch []float64
	// lastSwitch: the first patch answered to the last switch seen.
	lastSwitch time.Duration
	peakRSS    float64
}

// fleet follows every Rollout and Service of the scale namespace from
// watch events: when each Rollout reached a generation and when its
// Service first selected a color after that.
type fleet struct {
	mu   sync.Mutex
	cond *sync.Cond
	// stable: the Rollouts Healthy on their template's revision (revs:
	// each one's template revision, of generation revGen).
	stable map[string]bool
	revs   map[string]string
	revGen map[string]int64
	// target: the color each rollout should switch to; patchedAt: when
	// its patch was answered (under load the Rollout watch lags the
	// Service watch, so the patch's own answer dates it); switchedAt: when
	// its Service was first seen on the target color.
	target     map[string]string
	colors     map[string]string
	patchedAt  map[string]time.Time
	switchedAt map[string]time.Time
}

func (h *harness) watchFleet(ctx context.Context) (*fleet, error) {
	f := &fleet{stable: map[string]bool{}, revs: map[string]string{}, revGen: map[string]int64{}, target: map[string]string{},
		colors: map[string]string{}, patchedAt: map[string]time.Time{}, switchedAt: map[string]time.Time{}}
	f.cond = sync.NewCond(&f.mu)
	var list v1alpha1.RolloutList
	rw, err := h.c.Watch(ctx, &list, client.InNamespace(scaleNS))
	if err != nil {
		return nil, err
	}
	sw, err := h.cs.CoreV1().Services(scaleNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range []watch.Interface{rw, sw} {
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
	}
	f.cond.Broadcast()
}

// patched records when name's patch was answered.
func (f *fleet) patched(name string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patchedAt[name] = at
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
	f, err := h.watchFleet(ctx)
	if err != nil {
		return out, err
	}
	name := func(i int) string { return fmt.Sprintf("svc-%04d", i) }
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
	// All patched at once: as many patches in flight as a busy API server
	// takes, not one after another.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			if _, err := h.setImage(gctx, scaleNS, name(i), "agentic-rag/api:1"); err != nil {
				return err
			}
			f.patched(name(i), time.Now())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}
	err = f.until(ctx, 15*time.Minute, fmt.Sprintf("%d Rollouts switched", n), func() (bool, string) {
		return len(f.switchedAt) == n, fmt.Sprintf("%d of %d switched", len(f.switchedAt), n)
	})
	stopSampling()
	if err != nil {
		return out, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var first, last time.Time
	for name, at := range f.switchedAt {
		patched := f.patchedAt[name]
		if patched.IsZero() {
			return out, fmt.Errorf("%s: switched without a patch", name)
		}
		if first.IsZero() || patched.Before(first) {
			first = patched
		}
		if at.After(last) {
			last = at
		}
		out.patchToSwitch = append(out.patchToSwitch, ms(at.Sub(patched)))
	}
	out.lastSwitch = last.Sub(first)
	peakMu.Lock()
	defer peakMu.Unlock()
	return out, nil
}
