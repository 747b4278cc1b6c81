// Package release installs, upgrades and uninstalls an environment as a real
// Helm release through the Helm v4 SDK (helm list and helm history see it),
// with server-side apply, readiness waits that understand blue-green
// rollouts, and diffs and drift reports computed by the API server.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/render"
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

// Client returns a client for the target cluster.
func (t Target) Client() (client.Client, error) {
	cfg, err := t.restConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: v1alpha1.Scheme()})
}

// actionConfig connects the Helm SDK to the target cluster, storing release
// records as Secrets in the release's namespace (Helm's default).
func actionConfig(t Target) (*action.Configuration, error) {
	kube.ManagedFieldsManager = FieldManager
	// The kubeconfig is read here, so that a missing or broken one is said
	// in plain words (not as Helm's storage query failing later).
	rc, err := t.restConfig()
	if err != nil {
		return nil, err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	if err := cfg.Init(newRESTGetter(rc, t.Namespace), t.Namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm configuration for %s: %w", t, err)
	}
	return cfg, nil
}

// Install installs c as release t.Name and waits until every object is
// ready (kstatus), or timeout. It is the plain Helm SDK path, without
// ragdeploy's secrets, diff or blue-green-aware wait.
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
		return nil, fmt.Errorf("install %s: %w", t, err)
	}
	return rel, nil
}

// Deployed is the last revision of a release whose status is deployed (a
// failed upgrade after it does not count), with its manifest, chart and
// values; nil when the release has no deployed revision.
func Deployed(t Target) (*Revision, error) {
	cfg, err := actionConfig(t)
	if err != nil {
		return nil, err
	}
	rel, err := cfg.Releases.Deployed(t.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) || errors.Is(err, driver.ErrNoDeployedReleases) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("release %s: %w", t, err)
	}
	return revisionOf(rel)
}

// exists reports whether the release has any record (deployed or not).
func exists(cfg *action.Configuration, name string) (bool, error) {
	_, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Revision is one release record.
type Revision struct {
	Number      int
	Status      string
	Description string
	Manifest    string
}

func revisionOf(rel ri.Releaser) (*Revision, error) {
	acc, err := ri.NewAccessor(rel)
	if err != nil {
		return nil, err
	}
	r := &Revision{Number: acc.Version(), Status: acc.Status(), Manifest: acc.Manifest()}
	if v1, ok := rel.(*rspb.Release); ok && v1.Info != nil {
		r.Description = v1.Info.Description
	}
	return r, nil
}

// Objects decodes the revision's manifest.
func (r *Revision) Objects() ([]render.Object, error) {
	return render.Decode("manifest", r.Manifest)
}

// History lists a release's revisions, oldest first.
func History(t Target) ([]*Revision, error) {
	cfg, err := actionConfig(t)
	if err != nil {
		return nil, err
	}
	rels, err := action.NewHistory(cfg).Run(t.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, &NotInstalledError{t}
	} else if err != nil {
		return nil, fmt.Errorf("history of %s: %w", t, err)
	}
	var out []*Revision
	for _, r := range rels {
		rev, err := revisionOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, nil
}

// Test runs the release's test hooks (`helm test`) and waits for them.
func Test(t Target, timeout time.Duration) error {
	cfg, err := actionConfig(t)
	if err != nil {
		return err
	}
	rt := action.NewReleaseTesting(cfg)
	rt.Namespace, rt.Timeout = t.Namespace, timeout
	_, shutdown, err := rt.Run(t.Name)
	if serr := shutdown(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("test %s: %w", t, err)
	}
	return nil
}
