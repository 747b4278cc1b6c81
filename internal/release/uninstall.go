package release

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// Kept is what an uninstall left in place (or, with purge, deleted).
type Kept struct {
	// Uninstalled is false when there was no release to remove (a purge
	// after an uninstall).
	Uninstalled            bool     `json:"uninstalled"`
	PersistentVolumeClaims []string `json:"persistentVolumeClaims"`
	Secrets                []string `json:"secrets"`
}

// Data lists the release's data: the PersistentVolumeClaims of its
// StatefulSets and the Secrets ragdeploy applied for the environment.
func (m *Manager) Data(ctx context.Context, env string) (*Kept, error) {
	t, c := m.Target, m.client
	var pvcs corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &pvcs, client.InNamespace(t.Namespace), client.MatchingLabels{"app.kubernetes.io/instance": t.Name}); err != nil {
		return nil, err
	}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.InNamespace(t.Namespace),
		client.MatchingLabels{envconfig.LabelManagedBy: envconfig.ManagedBy, envconfig.LabelEnvironment: env}); err != nil {
		return nil, err
	}
	k := &Kept{PersistentVolumeClaims: []string{}, Secrets: []string{}}
	for _, p := range pvcs.Items {
		k.PersistentVolumeClaims = append(k.PersistentVolumeClaims, p.Name)
	}
	for _, s := range secrets.Items {
		k.Secrets = append(k.Secrets, s.Name)
	}
	return k, nil
}

// Uninstall removes the release and waits for its objects to be gone. The
// StatefulSets' PersistentVolumeClaims (and so the volumes) and the
// environment's Secrets are not part of the release and stay, unless purge
// is set, which deletes them too. With purge, a release already
// uninstalled has its kept data deleted; without, it is a
// NotInstalledError.
func (m *Manager) Uninstall(ctx context.Context, env string, purge bool, timeout time.Duration) (*Kept, error) {
	t, c := m.Target, m.client
	installed, err := m.exists()
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", t, err)
	}
	if !installed && !purge {
		return nil, &NotInstalledError{t}
	}
	if installed {
		un := action.NewUninstall(m.helm)
		un.WaitStrategy = kube.StatusWatcherStrategy
		un.Timeout = timeout
		if _, err := un.Run(t.Name); err != nil {
			return nil, fmt.Errorf("uninstall %s: %w", t, err)
		}
	}
	if err := dropDriftConfig(ctx, c, t); err != nil {
		return nil, err
	}
	kept, err := m.Data(ctx, env)
	if err != nil {
		return nil, err
	}
	kept.Uninstalled = installed
	if !purge {
		return kept, nil
	}
	for _, name := range kept.PersistentVolumeClaims {
		pvc := &corev1.PersistentVolumeClaim{}
		pvc.Name, pvc.Namespace = name, t.Namespace
		if err := client.IgnoreNotFound(c.Delete(ctx, pvc)); err != nil {
			return nil, fmt.Errorf("delete PersistentVolumeClaim %s/%s: %w", t.Namespace, name, err)
		}
	}
	for _, name := range kept.Secrets {
		s := &corev1.Secret{}
		s.Name, s.Namespace = name, t.Namespace
		if err := client.IgnoreNotFound(c.Delete(ctx, s)); err != nil {
			return nil, fmt.Errorf("delete Secret %s/%s: %w", t.Namespace, name, err)
		}
	}
	// Claims go once no pod uses them (pvc-protection); wait for that.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		left, err := m.Data(ctx, env)
		return err == nil && len(left.PersistentVolumeClaims)+len(left.Secrets) == 0, err
	})
	if err != nil {
		return kept, fmt.Errorf("purge %s: data still present: %w", t, err)
	}
	return kept, nil
}
