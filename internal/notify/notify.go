// Package notify delivers rollout notifications to webhooks: the
// controller's on promotion, abort and rollback, the pipeline's on a
// deploy's outcome.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// Webhooks posts Slack-compatible JSON ({"text": ...} plus structured
// fields) to the webhooks a Rollout lists. Delivery is best
// effort and never blocks a reconcile.
type Webhooks struct {
	Client *http.Client
}

// Message is the JSON body sent to a webhook.
type Message struct {
	Text      string `json:"text"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
	Revision  string `json:"revision"`
	Severity  string `json:"severity"`
}

// Notify implements controller.Notifier.
func (n Webhooks) Notify(ctx context.Context, b *v1alpha1.Rollout, e bluegreen.Event) {
	if b.Spec.Notifications == nil || len(b.Spec.Notifications.Webhooks) == 0 {
		return
	}
	severity := "info"
	if e.Warning {
		severity = "warning"
	}
	body, err := json.Marshal(Message{
		Text:      "[ragdeploy] " + b.Namespace + "/" + b.Name + ": " + e.Reason + ": " + e.Message,
		Namespace: b.Namespace, Name: b.Name, Reason: e.Reason, Message: e.Message,
		Revision: b.Status.CurrentRevision, Severity: severity,
	})
	if err != nil {
		return
	}
	n.post(ctx, b.Spec.Notifications.Webhooks, body)
}

// post delivers body to each url in the background: delivery outlives the
// reconcile that asked for it, and never blocks it.
func (n Webhooks) post(ctx context.Context, urls []string, body []byte) {
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	logger := log.FromContext(ctx)
	for _, url := range urls {
		// Webhook URLs embed credentials: log the host only.
		host := "(invalid url)"
		if u, err := neturl.Parse(url); err == nil {
			host = u.Host
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := Post(ctx, client, url, body); err != nil {
				logger.Error(err, "notification not delivered", "host", host)
			}
		}()
	}
}

// Post sends a JSON body to a webhook. Errors name no URL: webhook URLs
// embed credentials.
func Post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid webhook url")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return errors.New("webhook request failed")
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
