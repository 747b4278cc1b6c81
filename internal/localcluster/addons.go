package localcluster

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/agentic-rag/ragdeploy/internal/crds"
)

// corednsManifest is the cluster DNS of real nodes.
//
//go:embed addons/coredns.yaml
var corednsManifest []byte

// gatewayAPICRDs are the Gateway API's CRDs (hack/gateway-api-crds.sh):
// a canary's traffic routing writes its weights to an HTTPRoute.
//
//go:embed addons/gateway-api-crds.yaml
var gatewayAPICRDs []byte

// installGatewayAPI installs the Gateway API CRDs and waits until clients
// can use them.
func installGatewayAPI(ctx context.Context, cfg *rest.Config) error {
	docs, err := crds.Split("gateway-api-crds.yaml", gatewayAPICRDs)
	if err != nil {
		return err
	}
	if err := crds.Apply(ctx, cfg, docs); err != nil {
		return fmt.Errorf("install the Gateway API CRDs: %w", err)
	}
	return nil
}

// corednsImage is the image the manifest names; the local registry holds it.
const corednsImage = "registry.k8s.io/coredns/coredns:v1.15.0"

// fieldManager owns what the local cluster applies itself.
const fieldManager = "ragdeploy-local"

// applyManifest server-side applies every object of a multi-document YAML.
func applyManifest(ctx context.Context, cfg *rest.Config, manifest []byte) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc.Discovery()))
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		if _, err := dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
}

// deploymentAvailable reports whether a Deployment's current revision has
// all its replicas updated and available.
func deploymentAvailable(ctx context.Context, client kubernetes.Interface, ns, name string) bool {
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil {
		return false
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
		d.Status.AvailableReplicas == *d.Spec.Replicas && hasAvailable(d)
}

func hasAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == "True"
		}
	}
	return false
}
