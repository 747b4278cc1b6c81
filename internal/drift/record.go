package drift

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// NewObjectsGauge is ragdeploy_drift_objects{namespace,release}: the number
// of a release's objects that differ from its last deployed revision.
func NewObjectsGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ragdeploy_drift_objects",
		Help: "Objects of the release that differ from the last deployed revision.",
	}, []string{"namespace", "release"})
}

// Reasons of the drift Events.
const (
	ReasonDriftDetected = "DriftDetected"
	ReasonDriftResolved = "DriftResolved"
)

// RecordEvents creates a Warning Event (reason DriftDetected), dated at, on
// each drifted object, naming the fields that differ and never their values.
func RecordEvents(ctx context.Context, c client.Client, r *Report, component string, at time.Time) error {
	for _, obj := range r.Objects {
		msg := "object is missing from the cluster"
		if obj.State == Drifted {
			var paths []string
			for _, ch := range obj.Changes {
				paths = append(paths, ch.Path)
			}
			msg = "fields differ from the release: " + strings.Join(paths, ", ")
		}
		if err := recordEvent(ctx, c, obj.Ref, corev1.EventTypeWarning, ReasonDriftDetected, msg, component, at); err != nil {
			return err
		}
	}
	return nil
}

// RecordResolved creates a Normal Event (reason DriftResolved), dated at,
// on each object of r, the last drift found before the release was clean
// again.
func RecordResolved(ctx context.Context, c client.Client, r *Report, component string, at time.Time) error {
	for _, obj := range r.Objects {
		if err := recordEvent(ctx, c, obj.Ref, corev1.EventTypeNormal, ReasonDriftResolved, "object matches the release again", component, at); err != nil {
			return err
		}
	}
	return nil
}

// recordEvent dates the Event to the microsecond (eventTime, which then
// needs the reporting fields), so that how long drift lasted can be read
// back from Events as the drift watch measured it.
func recordEvent(ctx context.Context, c client.Client, ref objects.Ref, typ, reason, msg, component string, at time.Time) error {
	now := metav1.NewTime(at)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: strings.ToLower(ref.Name) + ".drift.", Namespace: ref.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: ref.GroupVersion().String(), Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
		},
		Reason: reason, Message: msg, Type: typ,
		Source:         corev1.EventSource{Component: component},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		EventTime:           metav1.NewMicroTime(at),
		ReportingController: "ragdeploy.io/drift", ReportingInstance: component, Action: "DriftCheck",
	}
	return c.Create(ctx, ev)
}
