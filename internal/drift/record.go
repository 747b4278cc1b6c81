package drift

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewObjectsGauge is ragdeploy_drift_objects{namespace,release}: the number
// of a release's objects that differ from its last deployed revision.
func NewObjectsGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ragdeploy_drift_objects",
		Help: "Objects of the release that differ from the last deployed revision.",
	}, []string{"namespace", "release"})
}

// RecordEvents creates a Warning Event (reason DriftDetected) on each
// drifted object, naming the fields that differ and never their values.
func RecordEvents(ctx context.Context, c client.Client, r *Report, component string) error {
	now := metav1.Now()
	for _, obj := range r.Objects {
		msg := "object is missing from the cluster"
		if obj.State == Drifted {
			var paths []string
			for _, ch := range obj.Changes {
				paths = append(paths, ch.Path)
			}
			msg = "fields differ from the release: " + strings.Join(paths, ", ")
		}
		ev := &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{GenerateName: strings.ToLower(obj.Ref.Name) + ".drift.", Namespace: obj.Ref.Namespace},
			InvolvedObject: corev1.ObjectReference{
				APIVersion: obj.Ref.GroupVersion().String(), Kind: obj.Ref.Kind, Namespace: obj.Ref.Namespace, Name: obj.Ref.Name,
			},
			Reason: "DriftDetected", Message: msg, Type: corev1.EventTypeWarning,
			Source:         corev1.EventSource{Component: component},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		if err := c.Create(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
