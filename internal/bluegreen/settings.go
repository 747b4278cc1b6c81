// Package bluegreen is the rollout strategies (blue-green, canary and
// rolling on two colors) as a pure decision function (Decide: observed
// state -> plan), with what the reconciler in
// internal/controller and the rollout client (Rollouts) share: names,
// labels, the status intents and the check evaluation. No progress is kept
// in memory: everything the strategy needs is in the Rollout's
// status, the two Deployments, the Services and their EndpointSlices.
package bluegreen

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Labels and annotations the controller puts on the objects it manages.
const (
	LabelColor    = v1alpha1.LabelColor
	LabelName     = v1alpha1.LabelName
	LabelRevision = v1alpha1.LabelRevision
	// AnnotationRevision carries the pod-template revision of a Deployment.
	AnnotationRevision = "ragdeploy.io/revision"
	// FieldOwner is the server-side-apply field manager of the controller.
	FieldOwner = "ragdeploy"
	// AnnotationScaleDownAt (RFC 3339) is when an idle color scales to zero.
	AnnotationScaleDownAt = "ragdeploy.io/scale-down-at"
	// AnnotationClaimedBy and AnnotationClaimUID, on a Service, name the
	// Rollout that switches it; no other rollout writes it.
	AnnotationClaimedBy = "ragdeploy.io/claimed-by"
	AnnotationClaimUID  = "ragdeploy.io/claimed-by-uid"
	// AnnotationPromotion, on the active Service, is the PromotionMark of
	// the rollout whose promotion switched it: the switch is written before
	// the status that records it, and a status write lost in between is
	// recovered from it.
	AnnotationPromotion = "ragdeploy.io/promotion"
)

// PromotionMark names one rollout of the current revision: the revision
// and when that rollout started (a revision rolled out again is another).
func PromotionMark(st *v1alpha1.RolloutStatus) string {
	if st.RolloutStartedAt == nil {
		return st.CurrentRevision
	}
	return fmt.Sprintf("%s/%d", st.CurrentRevision, st.RolloutStartedAt.UnixMicro())
}

// Defaults for unset spec fields (the CRD applies the same ones).
const (
	DefaultScaleDownDelay   = 30 * time.Second
	DefaultProgressDeadline = 600 * time.Second
	DefaultHistoryLimit     = 10
	// endpointsRecheck is how soon a color due to scale down but still
	// listed by the active Service's EndpointSlices is looked at again if
	// no EndpointSlice change comes first.
	endpointsRecheck = 5 * time.Second
)

// settings is a Rollout's spec with every default applied.
type settings struct {
	replicas         int32
	previewReplicas  int32
	autoPromote      bool
	autoPromoteAfter time.Duration
	scaleDownDelay   time.Duration
	progressDeadline time.Duration
	historyLimit     int
	prePromotion     []v1alpha1.AnalysisCheck
	postPromotion    []v1alpha1.AnalysisCheck
	// canary and rolling are the strategy when it is one of them.
	canary  *v1alpha1.CanaryStrategy
	rolling *v1alpha1.RollingStrategy
	// steps of a canary or rolling update, and their background checks.
	steps      []Step
	background []v1alpha1.AnalysisCheck
	// surge and unavailable bound a rolling update (RollingBounds).
	surge, unavailable int32
	// route is the HTTPRoute that carries a canary's weight (RouteOf).
	route string
}

func settingsOf(spec *v1alpha1.RolloutSpec) settings {
	s := settings{
		replicas:         Replicas(spec),
		scaleDownDelay:   DefaultScaleDownDelay,
		progressDeadline: DefaultProgressDeadline,
		historyLimit:     DefaultHistoryLimit,
	}
	s.previewReplicas = s.replicas
	if bg := spec.Strategy.BlueGreen; bg != nil {
		if bg.PreviewReplicaCount != nil && *bg.PreviewReplicaCount < s.replicas {
			s.previewReplicas = *bg.PreviewReplicaCount
		}
		if a := bg.AutoPromotion; a != nil && a.Enabled {
			s.autoPromote = true
			s.autoPromoteAfter = time.Duration(a.AfterSeconds) * time.Second
		}
		if bg.ScaleDownDelaySeconds != nil {
			s.scaleDownDelay = time.Duration(*bg.ScaleDownDelaySeconds) * time.Second
		}
		s.prePromotion, s.postPromotion = bg.PrePromotionAnalysis, bg.PostPromotionAnalysis
	}
	if c := spec.Strategy.Canary; c != nil {
		s.canary, s.background = c, c.Analysis
		if c.ScaleDownDelaySeconds != nil {
			s.scaleDownDelay = time.Duration(*c.ScaleDownDelaySeconds) * time.Second
		}
	}
	if r := spec.Strategy.Rolling; r != nil {
		// The stable color shrinks as the new one grows: nothing stays warm.
		s.rolling, s.background, s.scaleDownDelay = r, r.Analysis, 0
		s.surge, s.unavailable = RollingBounds(r, s.replicas)
	}
	s.steps = StepsOf(spec)
	s.route = RouteOf(spec)
	if spec.ProgressDeadlineSeconds != nil {
		s.progressDeadline = time.Duration(*spec.ProgressDeadlineSeconds) * time.Second
	}
	if spec.RevisionHistoryLimit != nil {
		s.historyLimit = int(*spec.RevisionHistoryLimit)
	}
	return s
}

// TemplateRevision is the revision of a pod template: a short hash of its
// canonical JSON. Equal templates have equal revisions.
func TemplateRevision(t *corev1.PodTemplateSpec) string {
	data, err := json.Marshal(t)
	if err != nil {
		// A PodTemplateSpec always marshals; keep a stable value regardless.
		return "invalid"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}
