// Package release installs, upgrades and uninstalls charts as real Helm
// releases through the Helm v4 SDK (helm list and helm history see them),
// with server-side apply and kstatus-based waiting.
package release

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Target is where a release lives.
type Target struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Name       string
}

// actionConfig connects the Helm SDK to the target cluster, storing release
// records as Secrets in the release's namespace (Helm's default).
func actionConfig(t Target) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Context, flags.Namespace = &t.Kubeconfig, &t.Context, &t.Namespace
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	if err := cfg.Init(flags, t.Namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm configuration for %s/%s: %w", t.Namespace, t.Name, err)
	}
	return cfg, nil
}

// Install installs c as release t.Name and waits until every object is
// ready (kstatus), or timeout.
func Install(ctx context.Context, t Target, c *chart.Chart, values map[string]any, timeout time.Duration) (ri.Releaser, error) {
	cfg, err := actionConfig(t)
	if err != nil {
		return nil, err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = t.Name, t.Namespace
	in.WaitStrategy = kube.StatusWatcherStrategy
	in.Timeout = timeout
	rel, err := in.RunWithContext(ctx, c, values)
	if err != nil {
		return nil, fmt.Errorf("install %s/%s: %w", t.Namespace, t.Name, err)
	}
	return rel, nil
}

// Uninstall removes the release and waits for its objects to be gone.
// PersistentVolumeClaims of StatefulSets are not part of a release and stay,
// as do Secrets the chart only references.
func Uninstall(t Target, timeout time.Duration) error {
	cfg, err := actionConfig(t)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.WaitStrategy = kube.StatusWatcherStrategy
	un.Timeout = timeout
	if _, err := un.Run(t.Name); err != nil {
		return fmt.Errorf("uninstall %s/%s: %w", t.Namespace, t.Name, err)
	}
	return nil
}
