package bluegreen

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// A user steers a rollout by merging these into the Rollout's
// status (the `ragdeploy rollout` commands do); the controller reads them
// like any other observed state.

// PromotePatch asks to promote revision rev.
func PromotePatch(rev string) []byte {
	return statusPatch(map[string]any{"promoteRevision": rev})
}

// PromoteStepPatch releases the pause at step of b's canary or rolling
// update.
func PromoteStepPatch(b *v1alpha1.Rollout, step int32) []byte {
	field := "canary"
	if b.Spec.Strategy.Rolling != nil {
		field = "rolling"
	}
	return statusPatch(map[string]any{field: map[string]any{"promotedStep": step}})
}

// AbortPatch aborts revision rev: traffic returns to the stable color.
func AbortPatch(rev, message string) []byte {
	return statusPatch(map[string]any{
		"abortedRevision": rev, "abortReason": v1alpha1.ReasonUserAbort, "abortMessage": message,
	})
}

// RetryPatch clears an abort so the current revision is rolled out again,
// with fresh analysis and a fresh progress deadline from now.
func RetryPatch(now time.Time) []byte {
	return statusPatch(map[string]any{
		"abortedRevision": nil, "abortReason": nil, "abortMessage": nil,
		"analysis": nil, "previewReadyAt": nil, "promotedAt": nil,
		"rolloutStartedAt": metav1.NewMicroTime(now.UTC()),
	})
}

func statusPatch(fields map[string]any) []byte {
	data, _ := json.Marshal(map[string]any{"status": fields}) // maps of strings always marshal
	return data
}
