// Command demo shows the local cluster at work: its nodes, then a sample
// Deployment of the api becoming Ready with live progress, and the Service
// endpoints that follow. `make demo` runs it after `ragdeploy local up`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", ".ragdeploy/local/kubeconfig", "kubeconfig of the local cluster")
	namespace := flag.String("namespace", "demo", "namespace for the sample Deployment")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, *kubeconfig, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, ns string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Println("== Nodes")
	for i := range nodes.Items {
		n := &nodes.Items[i]
		fmt.Printf("  %-12s ready=%-5t zone=%s\n", n.Name, localcluster.NodeReady(n), n.Labels["topology.kubernetes.io/zone"])
	}

	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	name := "api"
	_ = client.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{})
	waitDeleted(ctx, client, ns, name)
	replicas := int32(3)
	labels := map[string]string{"app.kubernetes.io/name": "agentic-rag-api"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: labels,
					// Each pod takes 2s to become ready, as a real api would.
					Annotations: map[string]string{localcluster.AnnotationReadyAfter: "2s"},
				},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "api", Image: "agentic-rag/api:1.0.0",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: new(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")}}},
	}
	fmt.Printf("\n== Deployment %s/%s (3 replicas, each ready after 2s)\n", ns, name)
	start := time.Now()
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	last := ""
	for {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		line := fmt.Sprintf("replicas=%d updated=%d ready=%d available=%d", d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)
		if line != last {
			fmt.Printf("  +%5.1fs  %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		if d.Status.AvailableReplicas == replicas {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not available: %w", ns, name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Printf("  Deployment available after %.1fs\n", time.Since(start).Seconds())
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=agentic-rag-api"})
	if err != nil {
		return err
	}
	fmt.Println("\n== Pods")
	for _, p := range pods.Items {
		fmt.Printf("  %-28s %-8s node=%-12s ip=%s\n", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP)
	}
	fmt.Printf("\n== Service %s endpoints\n", name)
	available := time.Now()
	for {
		slices, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		if err != nil {
			return err
		}
		var ready []string
		for _, s := range slices.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ready = append(ready, ep.Addresses[0])
				}
			}
		}
		if len(ready) == int(replicas) {
			fmt.Printf("  %d ready endpoints %v, %.1fs after the Deployment was available\n", len(ready), ready, time.Since(available).Seconds())
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s/%s: %d ready endpoints: %w", ns, name, len(ready), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func waitDeleted(ctx context.Context, client kubernetes.Interface, ns, name string) {
	for {
		if _, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
