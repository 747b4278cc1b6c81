package cli

import (
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
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
	_ = cmd.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var list corev1.NamespaceList
		return k.completeNames(cmd, &list, func() []string {
			var names []string
			for _, ns := range list.Items {
				names = append(names, ns.Name)
			}
			return names
		})
	})
}

// completeNames lists objects for a shell completion: names of what the cluster
// has, nothing when it cannot be reached (a completion has no errors).
func (k *kubeOptions) completeNames(cmd *cobra.Command, list client.ObjectList, names func() []string, opts ...client.ListOption) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, err := k.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if err := c.List(cmd.Context(), list, opts...); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return names(), cobra.ShellCompDirectiveNoFileComp
}

// completeRollouts completes a rollout NAME argument with the rollouts of
// the namespace the command would use.
func (k *kubeOptions) completeRollouts(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ns, err := k.namespace()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var list v1alpha1.RolloutList
	return k.completeNames(cmd, &list, func() []string {
		var names []string
		for _, b := range list.Items {
			names = append(names, b.Name)
		}
		return names
	}, client.InNamespace(ns))
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
