package cli

import (
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/release"
)

// kubeOptions select the cluster and namespace, as kubectl's flags do.
type kubeOptions struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

func (k *kubeOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&k.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&k.Context, "context", "", "kubeconfig context to use")
	f.StringVarP(&k.Namespace, "namespace", "n", "", "namespace (default: the context's namespace)")
}

func (k *kubeOptions) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.Kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.Context})
}

// restConfig loads the REST config of the selected context.
func (k *kubeOptions) restConfig() (*rest.Config, error) {
	cfg, err := k.loader().ClientConfig()
	if err != nil {
		return nil, release.ExplainKubeconfig(err, k.Kubeconfig)
	}
	return cfg, nil
}

// namespace is --namespace, else the context's namespace, else "default".
func (k *kubeOptions) namespace() (string, error) {
	if k.Namespace != "" {
		return k.Namespace, nil
	}
	ns, _, err := k.loader().Namespace()
	if err != nil {
		return "", release.ExplainKubeconfig(err, k.Kubeconfig)
	}
	return ns, nil
}

// client returns a controller-runtime client that knows ragdeploy's types.
func (k *kubeOptions) client() (client.Client, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: v1alpha1.Scheme()})
}
