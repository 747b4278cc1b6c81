package release

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
)

// ExplainKubeconfig turns client-go's kubeconfig loading errors into what
// a user can act on: which file is missing, or that none was found, and how
// to get one for the local cluster. path is --kubeconfig ("" when unset).
func ExplainKubeconfig(err error, path string) error {
	const hint = "(hint: for the local cluster run `ragdeploy local up`, then `export KUBECONFIG=$(ragdeploy local kubeconfig)`; or pass --kubeconfig)"
	switch {
	case errors.Is(err, os.ErrNotExist) && path != "":
		return fmt.Errorf("kubeconfig %s does not exist %s", path, hint)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("a kubeconfig named by $KUBECONFIG does not exist (KUBECONFIG=%s) %s", os.Getenv("KUBECONFIG"), hint)
	case clientcmd.IsEmptyConfig(err):
		where := "~/.kube/config does not exist and $KUBECONFIG is unset"
		if v := os.Getenv("KUBECONFIG"); v != "" {
			where = "$KUBECONFIG (" + v + ") names no kubeconfig with a cluster"
		}
		return fmt.Errorf("no kubeconfig: %s %s", where, hint)
	}
	return fmt.Errorf("kubeconfig: %w", err)
}
