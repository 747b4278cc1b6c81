package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Scheme returns a scheme holding the built-in Kubernetes types, the
// Gateway API's (a canary's HTTPRoute) and this group's: what every
// ragdeploy client and the controller decode with.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s) // registering known types into a new scheme cannot fail
	_ = gatewayv1.Install(s)
	_ = AddToScheme(s)
	return s
}
