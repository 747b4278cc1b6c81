package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

type canaryFigures struct {
	patchToStep, readyToStep, listedToStep, readyToSwitch, listedToSwitch []float64
}

// canaryRounds: a canary of 3 replicas with steps 25% (1 canary pod) and
// 50% (3), no pauses, rolled out `rounds` times. Each step change is timed
// from what the previous step waited for: its last canary pod Ready (pod
// watch), and that pod ready behind the active Service (EndpointSlice
// watch), to the canary Deployment scaled for the next step.
func (h *harness) canaryRounds(ctx context.Context, rounds int) (canaryFigures, error) {
	var f canaryFigures
	o, err := h.deploy(ctx, "canary", func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Canary: &v1alpha1.CanaryStrategy{
			Steps: []v1alpha1.CanaryStep{{SetWeight: new(int32(25))}, {SetWeight: new(int32(50))}},
		}}
	})
	if err != nil {
		return f, err
	}
	for i := 1; i <= rounds; i++ {
		b, err := h.get(ctx, ns, "canary")
		if err != nil {
			return f, err
		}
		gen, next := b.Generation+1, b.Status.StableColor.Other()
		c := string(next)
		patched := o.expect("image patched", func(s *state) bool { return s.generation(gen) })
		step1 := o.expect("step 1 scaled", func(s *state) bool { return s.scaled(gen, next, 1) })
		ready1 := o.expect("step 1 pod Ready", func(s *state) bool { return s.newReady(gen, c, 1) })
		listed1 := o.expect("step 1 pod listed", func(s *state) bool { return s.generation(gen) && s.listedReady(c, s.rev) == 1 })
		step2 := o.expect("step 2 scaled", func(s *state) bool { return s.scaled(gen, next, 3) })
		ready2 := o.expect("step 2 pods Ready", func(s *state) bool { return s.newReady(gen, c, 3) })
		listed2 := o.expect("step 2 pods listed", func(s *state) bool { return s.generation(gen) && s.listedReady(c, s.rev) == 3 })
		switched := o.expect("switched", func(s *state) bool { return s.generation(gen) && s.activeColor == c })
		if _, err := h.setImage(ctx, ns, "canary", fmt.Sprintf("agentic-rag/api:c-%d", i)); err != nil {
			return f, err
		}
		t, err := waitAll(ctx, o, patched, step1, ready1, listed1, step2, ready2, listed2, switched)
		if err != nil {
			return f, err
		}
		f.patchToStep = append(f.patchToStep, ms(t[1].Sub(t[0])))
		f.readyToStep = append(f.readyToStep, ms(t[4].Sub(t[2])))
		f.listedToStep = append(f.listedToStep, ms(t[4].Sub(t[3])))
		f.readyToSwitch = append(f.readyToSwitch, ms(t[7].Sub(t[5])))
		f.listedToSwitch = append(f.listedToSwitch, ms(t[7].Sub(t[6])))
		if _, err := o.when(ctx, "canary stable", func(s *state) bool { return s.ro.Status.StableRevision == s.rev }); err != nil {
			return f, err
		}
	}
	return f, nil
}

type rollingFigures struct {
	patchToBatch, readyToStableDown, listedToStableDown, readyToBatch, readyToSwitch []float64
}

// rollingRounds: a rolling update of 3 replicas, one pod at a time
// (maxSurge 1, maxUnavailable 0), no checks or pauses, `rounds` times.
// For batches 1 and 2: the batch's new pod Ready (pod watch) to the
// stable Deployment scaled down for it, and to the new Deployment scaled
// for the next batch; for batch 3, its pod Ready to the switch.
func (h *harness) rollingRounds(ctx context.Context, rounds int) (rollingFigures, error) {
	var f rollingFigures
	o, err := h.deploy(ctx, "rolling", func(b *v1alpha1.Rollout) {
		b.Spec.Strategy = v1alpha1.Strategy{Rolling: &v1alpha1.RollingStrategy{
			MaxSurge: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(0)),
		}}
	})
	if err != nil {
		return f, err
	}
	for i := 1; i <= rounds; i++ {
		b, err := h.get(ctx, ns, "rolling")
		if err != nil {
			return f, err
		}
		gen, stable, next := b.Generation+1, b.Status.StableColor, b.Status.StableColor.Other()
		c := string(next)
		patched := o.expect("image patched", func(s *state) bool { return s.generation(gen) })
		var scaled, ready, listed, stableDown []*expectation
		for k := int32(1); k <= 3; k++ {
			scaled = append(scaled, o.expect(fmt.Sprintf("batch %d scaled", k), func(s *state) bool { return s.scaled(gen, next, k) }))
			ready = append(ready, o.expect(fmt.Sprintf("batch %d pod Ready", k), func(s *state) bool { return s.newReady(gen, c, int(k)) }))
			listed = append(listed, o.expect(fmt.Sprintf("batch %d pod listed", k), func(s *state) bool {
				return s.generation(gen) && s.listedReady(c, s.rev) >= int(k)
			}))
			stableDown = append(stableDown, o.expect(fmt.Sprintf("stable down to %d", 3-k), func(s *state) bool {
				d := s.deployments[stable]
				return s.generation(gen) && d != nil && d.Spec.Replicas != nil && *d.Spec.Replicas <= 3-k
			}))
		}
		switched := o.expect("switched", func(s *state) bool { return s.generation(gen) && s.activeColor == c })
		if _, err := h.setImage(ctx, ns, "rolling", fmt.Sprintf("agentic-rag/api:r-%d", i)); err != nil {
			return f, err
		}
		tPatched, err := o.wait(ctx, patched)
		if err != nil {
			return f, err
		}
		var tScaled, tReady, tListed, tDown [3]time.Time
		for k := range 3 {
			if tScaled[k], err = o.wait(ctx, scaled[k]); err != nil {
				return f, err
			}
			if tReady[k], err = o.wait(ctx, ready[k]); err != nil {
				return f, err
			}
			if tListed[k], err = o.wait(ctx, listed[k]); err != nil {
				return f, err
			}
			if tDown[k], err = o.wait(ctx, stableDown[k]); err != nil {
				return f, err
			}
		}
		tSwitched, err := o.wait(ctx, switched)
		if err != nil {
			return f, err
		}
		f.patchToBatch = append(f.patchToBatch, ms(tScaled[0].Sub(tPatched)))
		for k := range 2 {
			f.readyToStableDown = append(f.readyToStableDown, ms(tDown[k].Sub(tReady[k])))
			f.listedToStableDown = append(f.listedToStableDown, ms(tDown[k].Sub(tListed[k])))
			f.readyToBatch = append(f.readyToBatch, ms(tScaled[k+1].Sub(tReady[k])))
		}
		f.readyToSwitch = append(f.readyToSwitch, ms(tSwitched.Sub(tReady[2])))
		if _, err := o.when(ctx, "rolling stable", func(s *state) bool { return s.ro.Status.StableRevision == s.rev }); err != nil {
			return f, err
		}
	}
	return f, nil
}
