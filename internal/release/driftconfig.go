package release

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// DriftConfig is how a release's drift is judged: the environment's ignore
// rules and the fingerprints of the Secrets ragdeploy applied. The CLI
// builds it from the environment; install and upgrade store it next to the
// release (in a Secret, as it describes Secrets) for the controller's drift
// watch, so both judge alike.
//
// It also records the environment's policy profile, so commands that change
// what runs (`rollout set-image`, `rollout undo`) apply it even where the
// environment file is not at hand.
type DriftConfig struct {
	Ignore  []objects.IgnoreRule     `json:"ignore,omitempty"`
	Secrets drift.SecretFingerprints `json:"secrets,omitempty"`
	Policy  string                   `json:"policy,omitempty"`
}

// driftConfigKey is the key of the stored configuration.
const driftConfigKey = "drift.json"

// DriftConfigName is the Secret that stores a release's drift configuration.
func DriftConfigName(release string) string { return "ragdeploy-drift-" + release }

func driftConfigOf(p *Plan) (*DriftConfig, error) {
	fps, err := drift.FingerprintsOf(p.Secrets)
	if err != nil {
		return nil, err
	}
	return &DriftConfig{Ignore: p.Env.Drift.Ignore, Secrets: fps, Policy: p.Env.PolicyName()}, nil
}

// storeDriftConfig applies the plan's drift configuration next to the release.
func storeDriftConfig(ctx context.Context, c client.Client, t Target, p *Plan) error {
	cfg, err := driftConfigOf(p)
	if err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: DriftConfigName(t.Name), Namespace: t.Namespace,
			Labels: map[string]string{envconfig.LabelManagedBy: envconfig.ManagedBy}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{driftConfigKey: data},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: u}
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("store drift configuration of %s: %w", t, err)
	}
	return nil
}

// loadDriftConfig reads the stored configuration; a release installed
// before it was stored is judged without ignore rules or Secrets.
func loadDriftConfig(ctx context.Context, c client.Client, t Target) (*DriftConfig, error) {
	var s corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: DriftConfigName(t.Name)}, &s)
	if apierrors.IsNotFound(err) {
		return &DriftConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("drift configuration of %s: %w", t, err)
	}
	cfg := &DriftConfig{}
	if err := json.Unmarshal(s.Data[driftConfigKey], cfg); err != nil {
		return nil, fmt.Errorf("drift configuration of %s (Secret %s): %w", t, s.Name, err)
	}
	return cfg, nil
}

// StoredPolicy is the policy profile the last install or upgrade of the
// release stored ("" when ragdeploy stored none: a release installed
// otherwise).
func StoredPolicy(ctx context.Context, c client.Client, t Target) (string, error) {
	cfg, err := loadDriftConfig(ctx, c, t)
	if err != nil {
		return "", err
	}
	return cfg.Policy, nil
}

// dropDriftConfig deletes the stored configuration (uninstall).
func dropDriftConfig(ctx context.Context, c client.Client, t Target) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: DriftConfigName(t.Name)}}
	return client.IgnoreNotFound(c.Delete(ctx, s))
}
