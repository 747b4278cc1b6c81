// Package clustertest runs a test package against one real local cluster.
//
// Each test package that needs the API server starts one cluster in TestMain
// and gives every test a fresh namespace, so tests stay independent while the
// package pays the start-up cost once:
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		env := clustertest.New(t)
//		// env.Client, env.Config and env.Namespace are ready to use;
//		// the namespace is deleted when the test ends.
//	}
//
// The cluster is stopped when the tests end, and also when the test binary is
// interrupted (SIGINT/SIGTERM); if the binary is killed outright, the kernel
// ends the components (they run with a parent-death signal). There is no
// fake clientset fallback: without the control-plane binaries (`make
// cluster-bin`) Main fails the package.
package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

var cluster *localcluster.Cluster

// Main starts the package's cluster, runs the tests and stops the cluster.
// It never returns.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: start local cluster: %v\n", err)
		return 1
	}
	cluster = c
	defer c.Stop()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "clustertest: %v: stopping local cluster\n", s)
		c.Stop()
		os.Exit(1)
	}()
	return m.Run()
}

// Cluster returns the package's cluster; it fails the test outside Main.
func Cluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	if cluster == nil {
		t.Fatal("clustertest: no cluster; call clustertest.Main from TestMain")
	}
	return cluster
}

// Env is what a test gets: the shared cluster and its own namespace.
type Env struct {
	Cluster   *localcluster.Cluster
	Config    *rest.Config
	Client    kubernetes.Interface
	Namespace string
}

// New creates a namespace named after the test, deleted when the test ends.
// Labels are added to the namespace (e.g. Pod Security levels).
func New(t testing.TB, labels ...map[string]string) *Env {
	t.Helper()
	c := Cluster(t)
	client, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(t.Name()), Labels: map[string]string{}}}
	for _, l := range labels {
		for k, v := range l {
			ns.Labels[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	return &Env{Cluster: c, Config: rest.CopyConfig(c.RESTConfig), Client: client, Namespace: ns.Name}
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// namespaceName turns a test name into a unique DNS label.
func namespaceName(testName string) string {
	base := strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return base + "-" + hex.EncodeToString(suffix)
}

// Eventually polls cond every interval until it returns true, failing the
// test with the last error or message when timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var lastErr error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadyEndpoints counts the ready endpoints of a Service over its EndpointSlices.
func ReadyEndpoints(ctx context.Context, client kubernetes.Interface, namespace, service string) (int, error) {
	slices, err := client.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}
