// Package report computes an environment's deployment quality figures
// (the DORA metrics and their neighbors) from what the cluster records:
// the rollouts' history, the drift Events and the Helm release history.
// It keeps no store of its own, so it cannot disagree with the cluster; it
// counts each history entry through the same rules (package bluegreen's
// quality functions) as the controller's metrics.
package report

import (
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/drift"
)

// Report is one environment's deployment quality over a window.
type Report struct {
	Kind        string    `json:"kind"`
	APIVersion  string    `json:"apiVersion"`
	Environment string    `json:"environment"`
	Namespace   string    `json:"namespace"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Apps        []App     `json:"apps"`
	Drift       Drift     `json:"drift"`
	Release     Release   `json:"release"`
}

// App is the figures of one rollout.
type App struct {
	bluegreen.Scope
	Rollout string `json:"rollout"`
	// Deployments counts the finished rollouts (superseded ones aside).
	Deployments int `json:"deployments"`
	Promoted    int `json:"promoted"`
	Aborted     int `json:"aborted"`
	RolledBack  int `json:"rolledBack"`
	Superseded  int `json:"superseded"`
	// ChangeFailures: aborted, rolled back, or rolled back later by hand.
	ChangeFailures     int       `json:"changeFailures"`
	SuccessRate        float64   `json:"successRate"`
	ChangeFailureRate  float64   `json:"changeFailureRate"`
	AutomationCoverage float64   `json:"automationCoverage"`
	Automated          int       `json:"automated"`
	Rollbacks          Rollbacks `json:"rollbacks"`
	// DeploymentTime is over the promoted rollouts; its mean is the mean
	// time to deploy.
	DeploymentTime Stats `json:"deploymentTime"`
	LeadTime       Stats `json:"leadTime"`
	RecoveryTime   Stats `json:"recoveryTime"`
	// History is the window's rollouts, newest first.
	History []v1alpha1.RevisionRecord `json:"history"`
}

// Rollbacks counts the returns to a stable version by trigger.
type Rollbacks struct {
	Automatic int `json:"automatic"`
	Manual    int `json:"manual"`
}

// Stats summarize durations, in seconds.
type Stats struct {
	Count       int     `json:"count"`
	MeanSeconds float64 `json:"meanSeconds"`
	P50Seconds  float64 `json:"p50Seconds"`
	MaxSeconds  float64 `json:"maxSeconds"`
}

// Drift is what the drift Events say about the release's drift episodes
// (see driftOf).
type Drift struct {
	Detections int   `json:"detections"`
	Lasted     Stats `json:"lasted"`
	// Open lists the objects drifted now (no DriftResolved yet).
	Open []string `json:"open"`
}

// Release counts the Helm revisions deployed in the window.
type Release struct {
	Revisions int `json:"revisions"`
	Failed    int `json:"failed"`
}

// Revision is one Helm revision: its status and when it was deployed.
type Revision struct {
	Status   string
	Deployed time.Time
}

// Sources are what the cluster records about an environment.
type Sources struct {
	Environment, Namespace string
	Rollouts               []v1alpha1.Rollout
	Events                 []corev1.Event
	Revisions              []Revision
}

// Compute is the report of src over [since, until].
func Compute(src Sources, since, until time.Time) *Report {
	r := &Report{Kind: "DeploymentReport", APIVersion: v1alpha1.GroupVersion.String(), Environment: src.Environment, Namespace: src.Namespace,
		Since: since, Until: until, Apps: []App{}}
	in := func(t time.Time) bool { return !t.Before(since) && !t.After(until) }
	for i := range src.Rollouts {
		b := &src.Rollouts[i]
		a := App{Scope: bluegreen.ScopeOf(b), Rollout: b.Namespace + "/" + b.Name, History: []v1alpha1.RevisionRecord{}}
		var deploy, lead, recovery []time.Duration
		for _, h := range b.Status.History {
			if h.FinishedAt == nil || !in(h.FinishedAt.Time) {
				continue
			}
			a.History = append(a.History, h)
			switch h.Outcome {
			case v1alpha1.OutcomePromoted:
				a.Promoted++
			case v1alpha1.OutcomeAborted:
				a.Aborted++
			case v1alpha1.OutcomeRolledBack:
				a.RolledBack++
			case v1alpha1.OutcomeSuperseded:
				a.Superseded++
			}
			if !bluegreen.Counted(&h) {
				continue
			}
			a.Deployments++
			a.ChangeFailures += bluegreen.ChangeFailures(&h)
			if bluegreen.Automated(&h) {
				a.Automated++
			}
			switch bluegreen.RollbackTrigger(&h) {
			case bluegreen.TriggerAutomatic:
				a.Rollbacks.Automatic++
			case bluegreen.TriggerManual:
				a.Rollbacks.Manual++
			}
			if d, ok := bluegreen.Duration(&h); ok && h.Outcome == v1alpha1.OutcomePromoted {
				deploy = append(deploy, d)
			}
			if d, ok := bluegreen.LeadTime(&h); ok {
				lead = append(lead, d)
			}
			if d, ok := bluegreen.Recovery(&h); ok {
				recovery = append(recovery, d)
			}
		}
		if a.Deployments > 0 {
			n := float64(a.Deployments)
			a.SuccessRate = float64(a.Promoted) / n
			a.ChangeFailureRate = float64(a.ChangeFailures) / n
			a.AutomationCoverage = float64(a.Automated) / n
		}
		a.DeploymentTime, a.LeadTime, a.RecoveryTime = stats(deploy), stats(lead), stats(recovery)
		r.Apps = append(r.Apps, a)
	}
	sort.Slice(r.Apps, func(i, j int) bool { return r.Apps[i].Rollout < r.Apps[j].Rollout })
	r.Drift = driftOf(src.Events, in)
	for _, rev := range src.Revisions {
		if in(rev.Deployed) {
			r.Release.Revisions++
			if rev.Status == "failed" {
				r.Release.Failed++
			}
		}
	}
	return r
}

// driftOf reads drift episodes from the Events, as the drift watch counts
// them (one release per namespace): an episode begins with a DriftDetected
// while none is open and lasts until every object it found drifted has its
// DriftResolved. An episode counts when it began in the window.
func driftOf(events []corev1.Event, in func(time.Time) bool) Drift {
	out := Drift{Open: []string{}}
	sorted := slices.Clone(events)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(&sorted[i]).Before(eventTime(&sorted[j])) })
	open := map[string]bool{}
	var began time.Time
	var lasted []time.Duration
	for i := range sorted {
		e := &sorted[i]
		obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		at := eventTime(e)
		switch e.Reason {
		case drift.ReasonDriftDetected:
			if len(open) == 0 {
				began = at
				if in(at) {
					out.Detections++
				}
			}
			open[obj] = true
		case drift.ReasonDriftResolved:
			if !open[obj] {
				continue
			}
			delete(open, obj)
			if len(open) == 0 && in(began) {
				lasted = append(lasted, at.Sub(began))
			}
		}
	}
	for obj := range open {
		out.Open = append(out.Open, obj)
	}
	sort.Strings(out.Open)
	out.Lasted = stats(lasted)
	return out
}

func eventTime(e *corev1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	if !e.FirstTimestamp.IsZero() {
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func stats(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return Stats{
		Count:       len(sorted),
		MeanSeconds: (sum / time.Duration(len(sorted))).Seconds(),
		P50Seconds:  sorted[(len(sorted)-1)/2].Seconds(),
		MaxSeconds:  sorted[len(sorted)-1].Seconds(),
	}
}
