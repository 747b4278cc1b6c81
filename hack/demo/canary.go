package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// canarySets make one release a canary: staging's replicas take 25% (1
// canary pod beside 2 stable ones: 33%) and 50% (2 beside 2), each held
// for a few seconds, with the same scale-down delay as the blue-green
// rollouts. A list given with --set replaces the chart's whole list, so
// every step is named.
var canarySets = []string{
	"api.strategy=canary",
	"api.canary.steps[0].setWeight=25",
	"api.canary.steps[1].pause.durationSeconds=5",
	"api.canary.steps[2].setWeight=50",
	"api.canary.steps[3].pause.durationSeconds=5",
	"api.canary.scaleDownDelaySeconds=8",
}

// canary upgrades to version with the canary strategy, prints each step as
// the rollout's watch shows it (the weight achieved, and with a real node
// the answers per version while the step ran), then waits for the previous
// stable color's scale-down.
func (d *demo) canary(ctx context.Context, version string) error {
	before, err := d.get(ctx)
	if err != nil {
		return err
	}
	oldColor := before.Status.StableColor
	d.milestone("upgrade to %s as a canary (old color %s serves)", version, oldColor)
	plan, err := release.Prepare(ctx, d.env, append(append(append([]string{}, d.sets...), canarySets...), "api.image.tag="+version))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := d.wc.Watch(wctx, &v1alpha1.RolloutList{}, client.InNamespace(before.Namespace), client.MatchingFields{"metadata.name": before.Name})
	if err != nil {
		return err
	}
	defer bw.Stop()
	done := make(chan error, 1)
	go func() {
		_, err := d.release.Upgrade(ctx, plan, release.Options{Timeout: 3 * time.Minute, Progress: indent{}})
		done <- err
	}()
	if d.traffic != nil {
		d.traffic.Take() // what came before the canary
	}
	step := ""
	for upgraded := false; !upgraded; {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			upgraded = true
		case ev, ok := <-bw.ResultChan():
			if !ok {
				return fmt.Errorf("the watch of rollout %s ended", before.Name)
			}
			b, isRollout := ev.Object.(*v1alpha1.Rollout)
			if !isRollout || !strings.HasSuffix(b.Spec.Template.Spec.Containers[0].Image, ":"+version) ||
				b.Status.CurrentRevision != bluegreen.TemplateRevision(&b.Spec.Template) || b.Status.Canary == nil {
				continue
			}
			line := canaryLine(b)
			if line == step {
				continue
			}
			if step != "" {
				d.canaryTraffic(step)
			}
			step = line
			d.milestone("%s", line)
		}
	}
	if step != "" {
		d.canaryTraffic(step)
	}
	if err := waitFor(ctx, func() bool {
		b, err := d.get(ctx)
		return err == nil && colorStatus(b, oldColor).Replicas == 0
	}); err != nil {
		return err
	}
	d.milestone("%s kept warm for the scale-down delay, then scaled to 0; %s stable on %s", oldColor, version, oldColor.Other())
	return nil
}

// canaryLine says where a canary stands: its step and the weight achieved.
func canaryLine(b *v1alpha1.Rollout) string {
	steps, cs := bluegreen.StepsOf(&b.Spec), b.Status.Canary
	if int(cs.Step) >= len(steps) {
		return fmt.Sprintf("canary steps done at %s: full scale, then the switch", bluegreen.Achieved(cs))
	}
	return fmt.Sprintf("canary step %d/%d (%s) at %s", cs.Step+1, len(steps), bluegreen.DescribeStep(&steps[cs.Step]), bluegreen.Achieved(cs))
}

// canaryTraffic records what the prober saw while a canary step ran (with
// a real node only).
func (d *demo) canaryTraffic(step string) {
	if d.traffic == nil {
		return
	}
	d.milestone("  traffic during %q: %s", step, d.traffic.Take())
}
