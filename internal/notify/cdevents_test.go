package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

func rollout(history ...v1alpha1.RevisionRecord) *v1alpha1.Rollout {
	b := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api", Labels: map[string]string{v1alpha1.LabelEnvironment: "staging"}}}
	b.Status.History = history
	for _, h := range history {
		if h.Outcome == v1alpha1.OutcomePromoted {
			b.Status.StableRevision = h.Revision
			break
		}
	}
	return b
}

func record(rev string, outcome v1alpha1.Outcome, image string) v1alpha1.RevisionRecord {
	at := metav1.NewMicroTime(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	return v1alpha1.RevisionRecord{Revision: rev, Outcome: outcome, Images: []string{image}, FinishedAt: &at}
}

// Each recorded rollout that changed what users are served is one CDEvent
// of the right type, with every field the v0.4.1 schema requires.
func TestServiceEventsFollowTheHistory(t *testing.T) {
	v1 := record("r1", v1alpha1.OutcomePromoted, "reg.local/agentic-rag/api:1.0.0")
	v2 := record("r2", v1alpha1.OutcomePromoted, "reg.local/agentic-rag/api@sha256:abc")
	bad := record("r3", v1alpha1.OutcomeRolledBack, "reg.local/agentic-rag/api:1.2.0")
	aborted := record("r4", v1alpha1.OutcomeAborted, "reg.local/agentic-rag/api:1.3.0")
	undo := record("r1", v1alpha1.OutcomePromoted, "reg.local/agentic-rag/api:1.0.0")
	undo.RollbackOf = "r2"
	tests := []struct {
		name     string
		b        *v1alpha1.Rollout
		recorded v1alpha1.RevisionRecord
		typ      string
		artifact string
	}{
		{"first promotion", rollout(v1), v1, ServiceDeployed, "pkg:oci/api?repository_url=reg.local%2Fagentic-rag%2Fapi&tag=1.0.0"},
		{"later promotion", rollout(v2, v1), v2, ServiceUpgraded, "pkg:oci/api@sha256%3Aabc?repository_url=reg.local%2Fagentic-rag%2Fapi"},
		{"rolled back: the stable version's artifact", rollout(bad, v2, v1), bad, ServiceRolledBack, "pkg:oci/api@sha256%3Aabc?repository_url=reg.local%2Fagentic-rag%2Fapi"},
		{"undo", rollout(undo, v2, v1), undo, ServiceRolledBack, "pkg:oci/api?repository_url=reg.local%2Fagentic-rag%2Fapi&tag=1.0.0"},
		{"aborted before the switch", rollout(aborted, v1), aborted, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := ServiceEvents(tt.b, []v1alpha1.RevisionRecord{tt.recorded})
			if tt.typ == "" {
				if len(events) != 0 {
					t.Fatalf("events %+v; want none", events)
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("%d events; want 1", len(events))
			}
			e := events[0]
			c, s := e.Context, e.Subject
			if c.Type != tt.typ || c.Version != "0.4.1" || c.ID == "" || c.Source == "" || c.Timestamp != "2026-12-02T03:00:00Z" {
				t.Fatalf("context %+v; want type %s, version 0.4.1, an id, a source and the finish time", c, tt.typ)
			}
			if s.Type != "service" || s.ID != "shop/api" || s.Content.Environment.ID != "staging" || s.Content.ArtifactID != tt.artifact {
				t.Fatalf("subject %+v; want service shop/api in staging running %s", s, tt.artifact)
			}
		})
	}
}

// Recorded posts the events to the rollout's cdEvents webhooks as JSON.
func TestRecordedPostsCDEvents(t *testing.T) {
	got := make(chan CDEvent, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e CDEvent
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil {
			http.Error(w, "not a CDEvent", http.StatusBadRequest)
			return
		}
		got <- e
	}))
	defer srv.Close()
	v1 := record("r1", v1alpha1.OutcomePromoted, "api:1.0.0")
	b := rollout(v1)
	b.Spec.Notifications = &v1alpha1.Notifications{CDEvents: []string{srv.URL}}
	Webhooks{Client: srv.Client()}.Recorded(context.Background(), b, &bluegreen.Plan{Recorded: []v1alpha1.RevisionRecord{v1}})
	select {
	case e := <-got:
		if e.Context.Type != ServiceDeployed {
			t.Fatalf("posted %s; want %s", e.Context.Type, ServiceDeployed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no CDEvent posted within 10s")
	}
}
