// Package release installs, upgrades and uninstalls an environment as a real
// Helm release through the Helm v4 SDK (helm list and helm history see it),
// with server-side apply, readiness waits that understand blue-green
// rollouts, and diffs and drift reports computed by the API server.
//
// A Manager runs every verb against one release (one file per verb:
// upgrade.go, diff.go, drift.go, rollback.go, uninstall.go, wait.go); its
// client and Helm configuration are built once, by NewManager.
package release

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// FieldManager owns the fields of release objects (Helm's server-side
// apply) and of the secrets ragdeploy applies next to them; drift checks
// dry-run as this manager.
const FieldManager = "helm"

// Target is where a release lives: a kubeconfig and context, or a REST
// config (in a controller).
type Target struct {
	Kubeconfig string
	Context    string
	Config     *rest.Config
	Namespace  string
	Name       string
}

func (t Target) String() string { return t.Namespace + "/" + t.Name }

// NotInstalledError says a command needs a release that has no record.
type NotInstalledError struct{ Target Target }

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("release %s is not installed", e.Target)
}

// restConfig is the target's REST config, without client-side throttling
// (drift checks send many concurrent dry-run requests).
func (t Target) restConfig() (*rest.Config, error) {
	if t.Config != nil {
		cfg := rest.CopyConfig(t.Config)
		cfg.QPS, cfg.Burst = -1, 0
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = t.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: t.Context}).ClientConfig()
	if err != nil {
		return nil, ExplainKubeconfig(err, t.Kubeconfig)
	}
	cfg.QPS, cfg.Burst = -1, 0
	return cfg, nil
}

// Manager runs the release verbs against one release. Its client and Helm
// configuration are built once, by NewManager, and serve every verb.
type Manager struct {
	Target Target
	client client.Client
	helm   *action.Configuration
}

// NewManager connects to the target's cluster: the kubeconfig is read here,
// so that a missing or broken one is said in plain words (not as Helm's
// storage query failing later).
func NewManager(t Target) (*Manager, error) {
	if kube.ManagedFieldsManager != FieldManager {
		return nil, errors.New("release: UseHelmFieldManager was not called (the process's main must, before any release verb)")
	}
	rc, err := t.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(rc, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return nil, err
	}
	// Release records are Secrets in the release's namespace (Helm's default).
	helm := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	if err := helm.Init(newRESTGetter(rc, t.Namespace), t.Namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm configuration for %s: %w", t, err)
	}
	return &Manager{Target: t, client: c, helm: helm}, nil
}

// Client is the manager's client of the target cluster.
func (m *Manager) Client() client.Client { return m.client }

// HelmConfiguration is the manager's Helm SDK configuration, for running
// a Helm action as it is (bench/release's plain Helm baseline).
func (m *Manager) HelmConfiguration() *action.Configuration { return m.helm }

// UseHelmFieldManager makes the Helm SDK apply as FieldManager, which drift
// checks dry-run as. It is process-wide (the SDK's own variable): main and
// the tests' TestMain call it once.
func UseHelmFieldManager() { kube.ManagedFieldsManager = FieldManager }
