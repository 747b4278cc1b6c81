package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

type switchFigures struct {
	readyToSwitch, switchToEndpoints, promoteToSwitch, promoteToEndpoints []float64
}

// deploy creates a Rollout named name in the bench namespace
// with its Service, starts watching it and waits until it serves.
func (h *harness) deploy(ctx context.Context, name string, mutate func(*v1alpha1.Rollout)) (*observer, error) {
	if err := h.service(ctx, ns, name, name); err != nil {
		return nil, err
	}
	o, err := h.observe(ctx, name)
	if err != nil {
		return nil, err
	}
	b := newRollout(ns, name, 3, mutate)
	if err := h.c.Create(ctx, b); err != nil {
		return nil, err
	}
	stored, err := h.get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	rev := bluegreen.TemplateRevision(&stored.Spec.Template)
	_, err = o.when(ctx, name+" serving", func(s *state) bool {
		return s.serving(string(v1alpha1.Blue), rev, 3) && s.ro != nil && s.ro.Status.StableRevision == rev
	})
	return o, err
}

// switchRounds: `rounds` automatic promotions (ready -> switch -> endpoints)
// and `rounds` manual ones (promote -> endpoints).
func (h *harness) switchRounds(ctx context.Context, rounds int) (switchFigures, error) {
	var f switchFigures
	auto, err := h.deploy(ctx, "auto", nil)
	if err != nil {
		return f, err
	}
	manual, err := h.deploy(ctx, "manual", func(b *v1alpha1.Rollout) { b.Spec.Strategy.BlueGreen.AutoPromotion = nil })
	if err != nil {
		return f, err
	}
	color := v1alpha1.Blue
	for i := 1; i <= rounds; i++ {
		color = color.Other()
		c := string(color)
		gen, err := h.nextGeneration(ctx, "auto")
		if err != nil {
			return f, err
		}
		ready := auto.expect("new color ready", func(s *state) bool {
			return s.observed(gen) && s.readyPods(c, s.ro.Status.CurrentRevision) == 3
		})
		switched := auto.expect("switch", func(s *state) bool { return s.activeColor == c })
		serving := auto.expect("endpoints", func(s *state) bool { return s.observed(gen) && s.serving(c, s.ro.Status.CurrentRevision, 3) })
		if _, err := h.setImage(ctx, ns, "auto", fmt.Sprintf("agentic-rag/api:%d", i)); err != nil {
			return f, err
		}
		tReady, err := auto.wait(ctx, ready)
		if err != nil {
			return f, err
		}
		tSwitched, err := auto.wait(ctx, switched)
		if err != nil {
			return f, err
		}
		tServing, err := auto.wait(ctx, serving)
		if err != nil {
			return f, err
		}
		f.readyToSwitch = append(f.readyToSwitch, ms(tSwitched.Sub(tReady)))
		f.switchToEndpoints = append(f.switchToEndpoints, ms(tServing.Sub(tSwitched)))

		if gen, err = h.nextGeneration(ctx, "manual"); err != nil {
			return f, err
		}
		var rev string
		paused := manual.expect("paused", func(s *state) bool {
			if s.observed(gen) && s.ro.Status.Phase == v1alpha1.PhasePaused {
				rev = s.ro.Status.CurrentRevision
				return true
			}
			return false
		})
		if _, err := h.setImage(ctx, ns, "manual", fmt.Sprintf("agentic-rag/api:%d", i)); err != nil {
			return f, err
		}
		if _, err := manual.wait(ctx, paused); err != nil {
			return f, err
		}
		promotedSwitch := manual.expect("promoted switch", func(s *state) bool { return s.activeColor == c })
		promoted := manual.expect("promoted endpoints", func(s *state) bool { return s.serving(c, rev, 3) })
		b, err := h.get(ctx, ns, "manual")
		if err != nil {
			return f, err
		}
		start := time.Now()
		if _, err := h.rollouts.Promote(ctx, b); err != nil {
			return f, err
		}
		tSwitched, err = manual.wait(ctx, promotedSwitch)
		if err != nil {
			return f, err
		}
		tServing, err = manual.wait(ctx, promoted)
		if err != nil {
			return f, err
		}
		f.promoteToSwitch = append(f.promoteToSwitch, ms(tSwitched.Sub(start)))
		f.promoteToEndpoints = append(f.promoteToEndpoints, ms(tServing.Sub(start)))
		if _, err := manual.when(ctx, "manual stable", func(s *state) bool { return s.ro.Status.StableRevision == rev }); err != nil {
			return f, err
		}
	}
	return f, nil
}

type rollbackFigures struct{ abort, failedCheck []float64 }

// rollbackRounds: a new revision is promoted and held in post-promotion
// analysis while the old color is warm; then either `abort` or a failing
// check sends traffic back.
func (h *harness) rollbackRounds(ctx context.Context, rounds int, healthURL string, health *healthEndpoint) (rollbackFigures, error) {
	var f rollbackFigures
	check := v1alpha1.AnalysisCheck{Name: "health", Count: 1000, IntervalSeconds: 1,
		HTTP: &v1alpha1.HTTPCheck{URL: healthURL + "/health"}}
	o, err := h.deploy(ctx, "rollback", func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.PostPromotionAnalysis = []v1alpha1.AnalysisCheck{check}
		b.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(600))
	})
	if err != nil {
		return f, err
	}
	for i := 1; i <= rounds; i++ {
		b, err := h.get(ctx, ns, "rollback")
		if err != nil {
			return f, err
		}
		stable, stableRev, gen := string(b.Status.StableColor), b.Status.StableRevision, b.Generation+1
		next := string(b.Status.StableColor.Other())
		health.ok.Store(true)
		var rev string
		promoted := o.expect("promoted", func(s *state) bool {
			if s.observed(gen) && s.serving(next, s.ro.Status.CurrentRevision, 3) {
				rev = s.ro.Status.CurrentRevision
				return true
			}
			return false
		})
		if _, err := h.setImage(ctx, ns, "rollback", fmt.Sprintf("agentic-rag/api:rb-%d", i)); err != nil {
			return f, err
		}
		if _, err := o.wait(ctx, promoted); err != nil {
			return f, err
		}
		back := o.expect("old color serving", func(s *state) bool { return s.serving(stable, stableRev, 3) })
		var start time.Time
		if i%2 == 1 {
			b, err := h.get(ctx, ns, "rollback")
			if err != nil {
				return f, err
			}
			start = time.Now()
			if _, err := h.rollouts.Abort(ctx, b, "bench"); err != nil {
				return f, err
			}
		} else {
			failed := o.expect("failed measurement recorded", func(s *state) bool {
				e := bluegreen.AnalysisEntry(&s.ro.Status, v1alpha1.PostPromotion, "health", rev)
				return e != nil && e.Failures > 0
			})
			health.ok.Store(false)
			if start, err = o.wait(ctx, failed); err != nil {
				return f, err
			}
		}
		tBack, err := o.wait(ctx, back)
		if err != nil {
			return f, err
		}
		if _, err := o.when(ctx, "aborted", func(s *state) bool {
			return s.ro.Status.Phase == v1alpha1.PhaseAborted && s.ro.Status.AbortedRevision == rev
		}); err != nil {
			return f, err
		}
		if i%2 == 1 {
			f.abort = append(f.abort, ms(tBack.Sub(start)))
		} else {
			f.failedCheck = append(f.failedCheck, ms(tBack.Sub(start)))
		}
	}
	return f, nil
}

// scaleRollout creates n Rollouts of one replica, waits until all
// serve, then changes all their images at once and times until every one is
// Healthy on its new revision, sampling the controller's RSS.
func (h *harness) scaleRollout(ctx context.Context, n int, ctrl *controllerProcess) (time.Duration, float64, error) {
	for i := range n {
		name := fmt.Sprintf("svc-%03d", i)
		if err := h.service(ctx, "scale", name, name); err != nil {
			return 0, 0, err
		}
		if err := h.c.Create(ctx, newRollout("scale", name, 1, nil)); err != nil {
			return 0, 0, err
		}
	}
	peak := 0.0
	allHealthy := func(image string) error {
		deadline := time.Now().Add(10 * time.Minute)
		for time.Now().Before(deadline) {
			peak = max(peak, ctrl.rssMiB())
			var list v1alpha1.RolloutList
			if err := h.c.List(ctx, &list, client.InNamespace("scale")); err != nil {
				return err
			}
			done := 0
			for _, b := range list.Items {
				if b.Status.Phase == v1alpha1.PhaseHealthy && b.Spec.Template.Spec.Containers[0].Image == image &&
					b.Status.StableRevision == bluegreen.TemplateRevision(&b.Spec.Template) {
					done++
				}
			}
			if done == n {
				return nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		return fmt.Errorf("not all %d Rollouts healthy on %s after 10 minutes", n, image)
	}
	if err := allHealthy("agentic-rag/api:0"); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for i := range n {
		if _, err := h.setImage(ctx, "scale", fmt.Sprintf("svc-%03d", i), "agentic-rag/api:1"); err != nil {
			return 0, 0, err
		}
	}
	if err := allHealthy("agentic-rag/api:1"); err != nil {
		return 0, 0, err
	}
	return time.Since(start), peak, nil
}
