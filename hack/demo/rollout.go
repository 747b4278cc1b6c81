package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/prober"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

type demo struct {
	c        client.Client
	wc       client.WithWatch
	start    time.Time
	timeline []string
	release  *release.Manager
	env      *envconfig.Environment
	sets     []string
	// traffic runs when the api runs on a real node.
	traffic *prober.Prober
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

func (d *demo) revision() int {
	rev, err := d.release.Deployed()
	if err != nil || rev == nil {
		return 0
	}
	return rev.Number
}

// deploy runs `ragdeploy upgrade` (install the first time) of the
// environment at an api version, with its progress display.
func (d *demo) deploy(ctx context.Context, version string) error {
	plan, err := release.Prepare(ctx, d.env, append(append([]string{}, d.sets...), "api.image.tag="+version))
	if err != nil {
		return err
	}
	_, err = d.release.Upgrade(ctx, plan, release.Options{Timeout: 3 * time.Minute, Progress: indent{}})
	return err
}

// indent prints release progress under the demo's lines.
type indent struct{}

func (indent) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		fmt.Println("    " + strings.TrimLeft(l, " "))
	}
	return len(p), nil
}

// measured is what one rollout showed.
type measured struct {
	switchTook, rollbackTook, exposed time.Duration
	stable                            v1alpha1.Color
}

// watcher times the moments of a rollout from watch events (received
// within milliseconds of the API server's write), not from polling.
type watcher struct {
	mu                                  sync.Mutex
	d                                   *demo
	version                             string
	oldColor                            v1alpha1.Color
	readyAt, switchedAt, failedAt, back time.Time
}

func (w *watcher) mark(at *time.Time, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at.IsZero() {
		*at = time.Now()
		w.d.milestone(format, args...)
	}
}

func (w *watcher) onRollout(b *v1alpha1.Rollout) {
	if len(b.Spec.Template.Spec.Containers) == 0 || !strings.HasSuffix(b.Spec.Template.Spec.Containers[0].Image, ":"+w.version) {
		return
	}
	rev := bluegreen.TemplateRevision(&b.Spec.Template)
	if b.Status.CurrentRevision != rev {
		return
	}
	newColor := w.oldColor.Other()
	if colorStatus(b, newColor).ReadyReplicas >= *b.Spec.Replicas && checks(b, rev, v1alpha1.PrePromotion, v1alpha1.AnalysisSuccessful) {
		w.mark(&w.readyAt, "%s ready on %s, pre-promotion check passed", w.version, newColor)
	}
	if checks(b, rev, v1alpha1.PostPromotion, v1alpha1.AnalysisFailed) {
		w.mark(&w.failedAt, "post-promotion check of %s failed: %s", w.version, b.Status.AbortReason)
	}
}

func (w *watcher) onActive(color v1alpha1.Color) {
	if color == w.oldColor.Other() {
		w.mark(&w.switchedAt, "active Service switched %s -> %s", w.oldColor, color)
	}
	w.mu.Lock()
	switched := !w.switchedAt.IsZero()
	w.mu.Unlock()
	if switched && color == w.oldColor {
		w.mark(&w.back, "rolled back automatically: active Service back on %s", w.oldColor)
	}
}

// watch feeds the watcher from watches on the rollout and its active Service.
func (d *demo) watch(ctx context.Context, w *watcher, b *v1alpha1.Rollout) error {
	bw, err := d.wc.Watch(ctx, &v1alpha1.RolloutList{}, client.InNamespace(b.Namespace), client.MatchingFields{"metadata.name": b.Name})
	if err != nil {
		return err
	}
	sw, err := d.wc.Watch(ctx, &corev1.ServiceList{}, client.InNamespace(b.Namespace), client.MatchingFields{"metadata.name": b.Spec.ActiveService})
	if err != nil {
		bw.Stop()
		return err
	}
	go func() {
		defer bw.Stop()
		for ev := range bw.ResultChan() {
			if b, ok := ev.Object.(*v1alpha1.Rollout); ok {
				w.onRollout(b)
			}
		}
	}()
	go func() {
		defer sw.Stop()
		for ev := range sw.ResultChan() {
			if svc, ok := ev.Object.(*corev1.Service); ok {
				w.onActive(v1alpha1.Color(svc.Spec.Selector[bluegreen.LabelColor]))
			}
		}
	}()
	return nil
}

// rollout upgrades to version, prints the rollout as it goes, and times the
// switch and, when the version fails after it, the rollback.
func (d *demo) rollout(ctx context.Context, version string, wantRollback bool) (*measured, error) {
	before, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	oldColor := before.Status.StableColor
	d.milestone("upgrade to %s (old color %s serves)", version, oldColor)
	plan, err := release.Prepare(ctx, d.env, append(append([]string{}, d.sets...), "api.image.tag="+version))
	if err != nil {
		return nil, err
	}
	w := &watcher{d: d, version: version, oldColor: oldColor}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.watch(wctx, w, before); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.release.Upgrade(ctx, plan, release.Options{Timeout: 3 * time.Minute, Progress: indent{}})
		done <- err
	}()
	upgradeErr := <-done
	m := &measured{stable: oldColor}
	if wantRollback {
		if upgradeErr == nil {
			d.trafficMilestone(w)
			return nil, fmt.Errorf("%s was not rolled back", version)
		}
		if err := waitFor(ctx, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return !w.back.IsZero() }); err != nil {
			return nil, err
		}
	} else {
		if upgradeErr != nil {
			return nil, upgradeErr
		}
		// The old color stays warm for the scale-down delay, then goes to 0.
		if err := waitFor(ctx, func() bool {
			b, err := d.get(ctx)
			return err == nil && colorStatus(b, oldColor).Replicas == 0
		}); err != nil {
			return nil, err
		}
		d.milestone("%s kept warm for the scale-down delay, then scaled to 0; %s stable on %s", oldColor, version, oldColor.Other())
	}
	d.trafficMilestone(w)
	w.mu.Lock()
	defer w.mu.Unlock()
	m.switchTook = w.switchedAt.Sub(w.readyAt)
	if wantRollback {
		m.rollbackTook, m.exposed = w.back.Sub(w.failedAt), w.back.Sub(w.switchedAt)
	}
	return m, nil
}

// trafficMilestone records what the prober saw during w's rollout: requests
// per version, failures, and the switch (and rollback) as traffic saw it:
// the first answer from the new version, and its last one, against the
// moments the watch saw the active Service switch and switch back.
func (d *demo) trafficMilestone(w *watcher) {
	if d.traffic == nil {
		return
	}
	s := d.traffic.Take()
	line := fmt.Sprintf("traffic during the %s rollout: %s", w.version, s)
	w.mu.Lock()
	switched, back := w.switchedAt, w.back
	w.mu.Unlock()
	if v := s.Version(w.version); v.Answers > 0 && !switched.IsZero() {
		line += fmt.Sprintf("; first %s answer %+.2fs from the switch", w.version, v.First.Sub(switched).Seconds())
		if !back.IsZero() {
			line += fmt.Sprintf(", last %+.2fs from the rollback", v.Last.Sub(back).Seconds())
		}
	}
	d.milestone("%s", line)
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (d *demo) get(ctx context.Context) (*v1alpha1.Rollout, error) {
	var b v1alpha1.Rollout
	err := d.c.Get(ctx, client.ObjectKey{Namespace: d.release.Target.Namespace, Name: d.release.Target.Name + "-api"}, &b)
	return &b, err
}

func colorStatus(b *v1alpha1.Rollout, c v1alpha1.Color) v1alpha1.ColorStatus {
	if c == v1alpha1.Blue {
		return b.Status.Blue
	}
	return b.Status.Green
}

// checks reports whether every check of a stage for rev has the result.
func checks(b *v1alpha1.Rollout, rev string, stage v1alpha1.AnalysisStage, result v1alpha1.AnalysisResult) bool {
	found := false
	for _, a := range b.Status.Analysis {
		if a.Revision == rev && a.Stage == stage {
			if a.Result != result {
				return false
			}
			found = true
		}
	}
	return found
}
