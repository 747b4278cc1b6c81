package main

import (
	"context"
	"fmt"
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

type switchFigures struct {
	patchToSwitch, readyToSwitch, switchToEndpoints, promoteToSwitch []float64
	// where the time from patch to switch goes: the controller's
	// re-template, the Deployment's pods created (kube-controller-manager),
	// those pods Ready (scheduler, node), then readyToSwitch.
	patchToTemplated, templatedToCreated, createdToReady []float64
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
		patched := auto.expect("image patched", func(s *state) bool { return s.generation(gen) })
		templated := auto.expect("Deployment re-templated", func(s *state) bool { return s.scaled(gen, color, 3) })
		created := auto.expect("new pods created", func(s *state) bool { return s.generation(gen) && s.newPods(c, s.rev) == 3 })
		ready := auto.expect("last new pod Ready", func(s *state) bool { return s.newReady(gen, c, 3) })
		switched := auto.expect("switched", func(s *state) bool { return s.generation(gen) && s.activeColor == c })
		serving := auto.expect("endpoints", func(s *state) bool { return s.generation(gen) && s.serving(c, s.rev, 3) })
		if _, err := h.setImage(ctx, ns, "auto", fmt.Sprintf("agentic-rag/api:%d", i)); err != nil {
			return f, err
		}
		t, err := waitAll(ctx, auto, patched, templated, created, ready, switched, serving)
		if err != nil {
			return f, err
		}
		f.patchToSwitch = append(f.patchToSwitch, ms(t[4].Sub(t[0])))
		f.patchToTemplated = append(f.patchToTemplated, ms(t[1].Sub(t[0])))
		f.templatedToCreated = append(f.templatedToCreated, ms(t[2].Sub(t[1])))
		f.createdToReady = append(f.createdToReady, ms(t[3].Sub(t[2])))
		f.readyToSwitch = append(f.readyToSwitch, ms(t[4].Sub(t[3])))
		f.switchToEndpoints = append(f.switchToEndpoints, ms(t[5].Sub(t[4])))
		if _, err := auto.when(ctx, "auto stable", func(s *state) bool { return s.ro.Status.StableRevision == s.rev }); err != nil {
			return f, err
		}

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
		b, err := h.get(ctx, ns, "manual")
		if err != nil {
			return f, err
		}
		start := time.Now()
		if _, err := h.rollouts.Promote(ctx, b); err != nil {
			return f, err
		}
		tSwitched, err := manual.wait(ctx, promotedSwitch)
		if err != nil {
			return f, err
		}
		f.promoteToSwitch = append(f.promoteToSwitch, ms(tSwitched.Sub(start)))
		if _, err := manual.when(ctx, "manual stable", func(s *state) bool { return s.ro.Status.StableRevision == rev }); err != nil {
			return f, err
		}
	}
	return f, nil
}

// revertRounds: a new image is rolled out and switched to, the old color
// kept warm; then the template is set back to the old image, and the
// active Service must go back to the warm pods without a new pod.
func (h *harness) revertRounds(ctx context.Context, rounds int) ([]float64, error) {
	var out []float64
	o, err := h.deploy(ctx, "revert", func(b *v1alpha1.Rollout) {
		b.Spec.Strategy.BlueGreen.ScaleDownDelaySeconds = new(int32(600))
	})
	if err != nil {
		return nil, err
	}
	for i := 1; i <= rounds; i++ {
		b, err := h.get(ctx, ns, "revert")
		if err != nil {
			return nil, err
		}
		old, oldImage, gen := string(b.Status.StableColor), b.Spec.Template.Spec.Containers[0].Image, b.Generation+1
		next := string(b.Status.StableColor.Other())
		if _, err := h.setImage(ctx, ns, "revert", fmt.Sprintf("agentic-rag/api:rv-%d", i)); err != nil {
			return nil, err
		}
		if _, err := o.when(ctx, "new image stable", func(s *state) bool {
			return s.generation(gen) && s.activeColor == next && s.ro.Status.StableRevision == s.rev
		}); err != nil {
			return nil, err
		}
		gen++
		reverted := o.expect("template reverted", func(s *state) bool { return s.generation(gen) })
		back := o.expect("switched back", func(s *state) bool { return s.generation(gen) && s.activeColor == old })
		if _, err := h.setImage(ctx, ns, "revert", oldImage); err != nil {
			return nil, err
		}
		t, err := waitAll(ctx, o, reverted, back)
		if err != nil {
			return nil, err
		}
		out = append(out, ms(t[1].Sub(t[0])))
		if _, err := o.when(ctx, "old image stable", func(s *state) bool { return s.ro.Status.StableRevision == s.rev }); err != nil {
			return nil, err
		}
	}
	return out, nil
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
