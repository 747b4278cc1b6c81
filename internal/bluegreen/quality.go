package bluegreen

import (
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// How a history entry counts in the deployment quality figures. The
// controller's metrics and `ragdeploy report` both count through these, so
// that the two agree.

// Scope is what the quality figures are grouped by.
type Scope struct {
	// Environment is the rollout's ragdeploy.io/environment label, else
	// its namespace.
	Environment string `json:"environment"`
	// App is its app.kubernetes.io/name label, else its name.
	App string `json:"app"`
	// Strategy is how it rolls out.
	Strategy string `json:"strategy"`
}

// The strategies, as spec.strategy names them.
const (
	StrategyBlueGreen = "blueGreen"
	StrategyCanary    = "canary"
	StrategyRolling   = "rolling"
)

// StrategyOf names a Rollout's strategy.
func StrategyOf(b *v1alpha1.Rollout) string {
	switch {
	case b.Spec.Strategy.Canary != nil:
		return StrategyCanary
	case b.Spec.Strategy.Rolling != nil:
		return StrategyRolling
	}
	return StrategyBlueGreen
}

// ScopeOf is b's scope.
func ScopeOf(b *v1alpha1.Rollout) Scope {
	s := Scope{Environment: b.Labels[v1alpha1.LabelEnvironment], App: b.Labels["app.kubernetes.io/name"], Strategy: StrategyOf(b)}
	if s.Environment == "" {
		s.Environment = b.Namespace
	}
	if s.App == "" {
		s.App = b.Name
	}
	return s
}

// Rollback triggers.
const (
	TriggerAutomatic = "automatic"
	TriggerManual    = "manual"
)

// Counted reports whether r counts as a deployment: every finished rollout
// but a superseded one (replaced before it finished, it neither succeeded
// nor failed).
func Counted(r *v1alpha1.RevisionRecord) bool {
	return r.Outcome != v1alpha1.OutcomeSuperseded && r.Outcome != ""
}

// Failed reports whether r's rollout failed: aborted or rolled back.
func Failed(r *v1alpha1.RevisionRecord) bool {
	return r.Outcome == v1alpha1.OutcomeAborted || r.Outcome == v1alpha1.OutcomeRolledBack
}

// RollbackTrigger is how r returned to the stable version, "" when it did
// not: its failure, by the controller (automatic) or a user (manual), or a
// return to an earlier revision (manual).
func RollbackTrigger(r *v1alpha1.RevisionRecord) string {
	switch {
	case Failed(r) && r.DecidedBy == v1alpha1.DecidedByController:
		return TriggerAutomatic
	case Failed(r), r.RollbackOf != "":
		return TriggerManual
	}
	return ""
}

// Duration is r's rollout time: start to outcome.
func Duration(r *v1alpha1.RevisionRecord) (time.Duration, bool) {
	if r.StartedAt == nil || r.FinishedAt == nil {
		return 0, false
	}
	return r.FinishedAt.Sub(r.StartedAt.Time), true
}

// Recovery is the time users were served a failed version: for a rollout
// rolled back after it took traffic, its failure to the stable version
// serving again; for a return to an earlier revision, that rollout's start
// to its promotion. Aborts before the switch never reached users and have
// none.
func Recovery(r *v1alpha1.RevisionRecord) (time.Duration, bool) {
	switch {
	case r.Outcome == v1alpha1.OutcomeRolledBack && r.RecoveredAt != nil && r.FinishedAt != nil:
		return r.RecoveredAt.Sub(r.FinishedAt.Time), true
	case r.RollbackOf != "" && r.Outcome == v1alpha1.OutcomePromoted:
		return Duration(r)
	}
	return 0, false
}

// LeadTime is the image's creation to r's promotion, when the image
// carries its creation time.
func LeadTime(r *v1alpha1.RevisionRecord) (time.Duration, bool) {
	if r.ImageCreatedAt == nil || r.PromotedAt == nil || r.Outcome != v1alpha1.OutcomePromoted {
		return 0, false
	}
	return r.PromotedAt.Sub(r.ImageCreatedAt.Time), true
}

// ChangeFailures is how many failed changes r brings to light: its own
// failure, or the stable revision it rolled back by hand.
func ChangeFailures(r *v1alpha1.RevisionRecord) int {
	if Failed(r) || r.RollbackOf != "" {
		return 1
	}
	return 0
}

// Automated reports whether r was promoted or rolled back without a
// person's command (`rollout promote`, `abort`, `undo`, a reverted
// template).
func Automated(r *v1alpha1.RevisionRecord) bool {
	return r.DecidedBy == v1alpha1.DecidedByController && r.RollbackOf == ""
}
