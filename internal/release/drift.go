package release

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// Drift compares the live cluster with the last deployed revision of the
// release and the environment's secrets, under the environment's drift
// configuration: the same check the controller's drift watch makes from the
// configuration stored next to the release.
func (m *Manager) Drift(ctx context.Context, p *Plan) (*drift.Report, error) {
	cfg, err := driftConfigOf(p)
	if err != nil {
		return nil, err
	}
	return m.driftOf(ctx, cfg, otherThanSecrets(p.Secrets))
}

// StoredDrift is Drift for a process that has only the cluster (the
// controller, status): the drift configuration is the one the last install
// or upgrade stored next to the release.
func (m *Manager) StoredDrift(ctx context.Context) (*drift.Report, error) {
	cfg, err := loadDriftConfig(ctx, m.client, m.Target)
	if err != nil {
		return nil, err
	}
	return m.driftOf(ctx, cfg, nil)
}

// driftOf compares the release's last deployed revision (and extra objects
// next to it) by server-side dry run, and the Secrets ragdeploy owns by
// fingerprint.
func (m *Manager) driftOf(ctx context.Context, cfg *DriftConfig, extra []*unstructured.Unstructured) (*drift.Report, error) {
	t, c := m.Target, m.client
	rev, err := m.Deployed()
	if err != nil {
		return nil, err
	}
	if rev == nil {
		return nil, &NotInstalledError{t}
	}
	objs, err := rev.Objects()
	if err != nil {
		return nil, err
	}
	desired := append(owned(unstructuredOf(objs), t.Name, t.Namespace), extra...)
	report, err := drift.Check(ctx, c, desired, checkOptions(cfg.Ignore, desired))
	if err != nil {
		return nil, err
	}
	secrets, err := drift.CheckSecrets(ctx, c, t.Namespace, cfg.Secrets, cfg.Ignore)
	if err != nil {
		return nil, err
	}
	report.Merge(len(cfg.Secrets), secrets)
	report.Environment = rev.Environment
	return report, nil
}

// FixDrift re-applies only the drifted objects of a report. The Secrets
// ragdeploy owns are written back whole from the plan (a key someone added
// goes, which an apply could not remove).
func (m *Manager) FixDrift(ctx context.Context, p *Plan, report *drift.Report) error {
	c := m.client
	owned := map[objects.Ref]*unstructured.Unstructured{}
	for _, s := range p.Secrets {
		owned[objects.RefOf(s)] = s
	}
	rest := &drift.Report{}
	for _, o := range report.Objects {
		s, ok := owned[o.Ref]
		if !ok || o.Ref.Kind != "Secret" {
			rest.Objects = append(rest.Objects, o)
			continue
		}
		if err := replaceSecret(ctx, c, s); err != nil {
			return err
		}
	}
	return drift.Fix(ctx, c, rest, FieldManager)
}

// replaceSecret makes the live Secret hold exactly desired's data (keys
// someone added go, which an apply could not remove), creating it when it is
// gone. FixDrift and the undo of a failed upgrade both write Secrets back so.
func replaceSecret(ctx context.Context, c client.Client, desired *unstructured.Unstructured) error {
	var want corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(desired.Object, &want); err != nil {
		return err
	}
	var live corev1.Secret
	err := c.Get(ctx, client.ObjectKeyFromObject(&want), &live)
	if apierrors.IsNotFound(err) {
		fresh := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name, Labels: want.Labels, Annotations: want.Annotations},
			Type:       want.Type, Data: want.Data,
		}
		err = c.Create(ctx, fresh, client.FieldOwner(FieldManager))
	} else if err == nil {
		live.Data, live.StringData = want.Data, nil
		err = c.Update(ctx, &live, client.FieldOwner(FieldManager))
	}
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// otherThanSecrets are the objects ragdeploy applies next to the release
// that are checked like release objects (ExternalSecrets).
func otherThanSecrets(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "Secret" || o.GroupVersionKind().Group != "" {
			out = append(out, o)
		}
	}
	return out
}

// checkOptions are the drift options for a release's desired objects:
// Helm's field manager, what other controllers own adopted from the live
// objects (liveFields), and the environment's ignore rules.
func checkOptions(ignore []objects.IgnoreRule, desired []*unstructured.Unstructured) drift.Options {
	opts := drift.DefaultOptions()
	opts.FieldManager = FieldManager
	opts.Adopt = liveFieldsOf(desired).keep
	opts.Ignore = ignore
	return opts
}
