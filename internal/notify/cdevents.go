package notify

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// CDEvents (https://cdevents.dev, spec v0.4.1) for the service a rollout
// runs: deployed on its first promotion, upgraded on a later one,
// rolledback when traffic returned to an earlier version (a failed
// post-promotion check, an abort after the switch, an undo). An abort
// before the switch changed nothing users saw and sends none.
const (
	CDEventsSpecVersion = "0.4.1"
	ServiceDeployed     = "dev.cdevents.service.deployed.0.2.0"
	ServiceUpgraded     = "dev.cdevents.service.upgraded.0.2.0"
	ServiceRolledBack   = "dev.cdevents.service.rolledback.0.2.0"
)

// CDEvent is the JSON body of one CDEvent.
type CDEvent struct {
	Context CDEventContext `json:"context"`
	Subject CDEventSubject `json:"subject"`
}

// CDEventContext is a CDEvent's context.
type CDEventContext struct {
	Version   string `json:"version"`
	ID        string `json:"id"`
	Source    string `json:"source"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
}

// CDEventSubject is a service subject.
type CDEventSubject struct {
	ID      string         `json:"id"`
	Source  string         `json:"source"`
	Type    string         `json:"type"`
	Content ServiceContent `json:"content"`
}

// ServiceContent says where the service runs and what it runs.
type ServiceContent struct {
	Environment struct {
		ID     string `json:"id"`
		Source string `json:"source,omitempty"`
	} `json:"environment"`
	ArtifactID string `json:"artifactId"`
}

// ServiceEvents are the CDEvents of what a plan recorded in b's history
// (b carries the status written).
func ServiceEvents(b *v1alpha1.Rollout, recorded []v1alpha1.RevisionRecord) []CDEvent {
	var out []CDEvent
	for i := range recorded {
		r := &recorded[i]
		var typ string
		images := r.Images
		switch {
		case r.Outcome == v1alpha1.OutcomePromoted && r.RollbackOf != "":
			typ = ServiceRolledBack
		case r.Outcome == v1alpha1.OutcomePromoted && promotions(b) == 1:
			typ = ServiceDeployed
		case r.Outcome == v1alpha1.OutcomePromoted:
			typ = ServiceUpgraded
		case r.Outcome == v1alpha1.OutcomeRolledBack:
			typ, images = ServiceRolledBack, stableImages(b)
		default:
			continue
		}
		source := "/apis/" + v1alpha1.GroupVersion.String() + "/namespaces/" + b.Namespace + "/rollouts/" + b.Name
		e := CDEvent{
			Context: CDEventContext{Version: CDEventsSpecVersion, ID: string(uuid.NewUUID()), Source: source, Type: typ,
				Timestamp: r.FinishedAt.UTC().Format(time.RFC3339Nano)},
			Subject: CDEventSubject{ID: b.Namespace + "/" + b.Name, Source: source, Type: "service"},
		}
		e.Subject.Content.Environment.ID = bluegreen.ScopeOf(b).Environment
		e.Subject.Content.Environment.Source = "/api/v1/namespaces/" + b.Namespace
		e.Subject.Content.ArtifactID = artifactID(images)
		out = append(out, e)
	}
	return out
}

// promotions counts the promoted rollouts in b's history.
func promotions(b *v1alpha1.Rollout) int {
	n := 0
	for _, h := range b.Status.History {
		if h.Outcome == v1alpha1.OutcomePromoted {
			n++
		}
	}
	return n
}

// stableImages are the images of b's stable revision, from its newest
// promotion.
func stableImages(b *v1alpha1.Rollout) []string {
	for _, h := range b.Status.History {
		if h.Revision == b.Status.StableRevision && h.Outcome == v1alpha1.OutcomePromoted {
			return h.Images
		}
	}
	return nil
}

// artifactID is the package URL (purl, type oci) of the first image:
// pkg:oci/NAME@DIGEST?repository_url=REPO, or with a tag qualifier when
// the reference has no digest.
func artifactID(images []string) string {
	if len(images) == 0 {
		return "pkg:oci/unknown"
	}
	ref := images[0]
	repo, digest, hasDigest := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	name := repo[strings.LastIndex(repo, "/")+1:]
	q := url.Values{"repository_url": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	id := "pkg:oci/" + name
	if hasDigest {
		id += "@" + url.QueryEscape(digest)
	}
	return id + "?" + q.Encode()
}

// Recorded implements controller.Notifier: it posts the CDEvents of what
// the plan recorded to spec.notifications.cdEvents.
func (n Webhooks) Recorded(ctx context.Context, b *v1alpha1.Rollout, p *bluegreen.Plan) {
	if b.Spec.Notifications == nil || len(b.Spec.Notifications.CDEvents) == 0 {
		return
	}
	for _, e := range ServiceEvents(b, p.Recorded) {
		body, err := json.Marshal(e)
		if err != nil {
			continue
		}
		n.post(ctx, b.Spec.Notifications.CDEvents, body)
	}
}
