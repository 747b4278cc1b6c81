package bluegreen

import (
	"fmt"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// rollingStep plans a rolling update's stable color for a batch that
// brings the new color to pods, and returns the new color's size: the
// stable color gives up a pod for each new one that serves (ready behind
// the active Service), no further than maxUnavailable below the desired
// replicas allows and never below replicas-pods; the new color grows no
// further than maxSurge above the desired replicas allows. A stable color
// below replicas-pods (the replicas were raised) grows back to it.
func (d *decider) rollingStep(next v1alpha1.Color, pods int32) int32 {
	r, s := d.settings.replicas, d.settings
	serving := int32(0)
	if d.observed.Active.Both {
		serving = d.observed.Active.ReadyByColor[next]
	}
	keep := max(r-pods, min(d.observed.Colors[d.status.StableColor].Replicas, r-s.unavailable-serving))
	d.plan.Colors[d.status.StableColor] = ColorPlan{Revision: d.status.StableRevision, Replicas: keep}
	return max(0, min(pods, r+s.surge-keep))
}

// stableGaveWay reports whether the stable color is down to what a batch
// bringing the new color to pods leaves it (always, for a canary, whose
// stable color keeps every replica).
func (d *decider) stableGaveWay(pods int32) bool {
	if d.settings.rolling == nil {
		return true
	}
	stable := d.status.StableColor
	left, want := d.observed.Colors[stable].Replicas, d.settings.replicas-pods
	if left <= want {
		return true
	}
	d.progressing(v1alpha1.ReasonScalingUp, fmt.Sprintf("%s (revision %s): %d replicas, going to %d", stable, d.status.StableRevision, left, want))
	return false
}
