package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/agentic-rag/ragdeploy/internal/image"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// hostSysctls are the host settings a real node could change: the globals
// kubelet rewrites at start-up, forwarding, and conntrack's table size.
var hostSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/netfilter/nf_conntrack_max",
	"net/bridge/bridge-nf-call-iptables",
}

// hostPaths are the fixed paths containerd, the CNI library and kubelet
// use whatever their configuration says, and others they might create.
var hostPaths = []string{
	"/run/containerd", "/run/netns", "/var/lib/cni", "/var/lib/kubelet", "/var/log/containers", "/var/log/pods",
	"/var/lib/containerd", "/opt/containerd", "/etc/cni", "/usr/libexec/kubernetes", "/etc/kubernetes",
}

// counters are packet and byte counters in iptables-save output; they move
// with any traffic and say nothing about the rules.
var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// hostState records the host's networking, mounts, sysctls and fixed paths
// as the tools a user would check them with show them, and the cgroups of
// the cluster in stateDir.
func hostState(t *testing.T, stateDir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	for _, argv := range [][]string{
		{"iptables-save"}, {"ip6tables-save"}, {"nft", "list", "ruleset"},
		{"ip", "link"}, {"ip", "addr"}, {"ip", "route", "show", "table", "all"}, {"ip", "-6", "route", "show", "table", "all"}, {"ip", "rule"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput() //nolint:gosec // G204: the test's own observation tools, arguments as a list
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, counters.ReplaceAllString(l, "[counters]"))
			}
		}
		state[strings.Join(argv, " ")] = strings.Join(lines, "\n")
	}
	// Mount points and what is mounted there (IDs differ between runs of
	// the same mount, so they are left out).
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, l := range strings.Split(strings.TrimSpace(string(mountinfo)), "\n") {
		f := strings.Fields(l)
		sep := 0
		for i, x := range f {
			if x == "-" {
				sep = i
			}
		}
		mounts = append(mounts, f[4]+" "+f[sep+1]+" "+f[sep+2])
	}
	sort.Strings(mounts)
	state["mounts"] = strings.Join(mounts, "\n")
	for _, s := range hostSysctls {
		v, err := os.ReadFile(filepath.Join("/proc/sys", s)) //nolint:gosec // G304: a fixed list of sysctls the test observes
		state["sysctl "+s] = strings.TrimSpace(string(v)) + errString(err)
	}
	for _, p := range hostPaths {
		entries, err := os.ReadDir(p)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		state["path "+p] = strings.Join(names, " ") + errString(err)
	}
	// Cgroups are the one global thing a cluster makes; other packages'
	// clusters come and go meanwhile, so only this one's count.
	name, err := localcluster.CgroupName(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	state["cgroups"] = strings.Join(cgroups, " ")
	return state
}

func errString(err error) string {
	if err != nil {
		return " (" + err.Error() + ")"
	}
	return ""
}

// sameHost fails the test with every difference between two host states.
func sameHost(t *testing.T, when string, before, after map[string]string, except ...string) {
	t.Helper()
	var diffs []string
	for k, v := range before {
		if !contains(except, k) && after[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s:\n  before: %q\n  %s: %q", k, v, when, after[k]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("the host changed (%s):\n%s", when, strings.Join(diffs, "\n"))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// requireRealNodes fails (not skips) when this machine cannot run real
// nodes: make test installs what they need, so a missing piece is a defect.
func requireRealNodes(t *testing.T) {
	t.Helper()
	if _, err := (localcluster.Options{BinDir: binDir, RealNodes: 1, SandboxExecutable: binary}).Resolve(); err != nil {
		t.Fatal(err)
	}
}

// upRealNode starts `local up --real-nodes 1 --no-controller` in stateDir
// and returns a client for it.
func upRealNode(t *testing.T, work, stateDir string) kubernetes.Interface {
	cs, _ := upRealNodeConfig(t, work, stateDir, "--no-controller")
	return cs
}

// upRealNodeConfig is upRealNode with more flags and the admin's REST config.
func upRealNodeConfig(t *testing.T, work, stateDir string, flags ...string) (kubernetes.Interface, *rest.Config) {
	t.Helper()
	up := ragdeploy(t, work, nil, append([]string{"local", "up", "--state-dir", stateDir, "--nodes", "1", "--real-nodes", "1"}, flags...)...)
	if up.code != 0 {
		t.Fatalf("local up --real-nodes 1 failed: %s", up.stderr)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, cfg
}

// runOnRealNode creates an api stand-in pod on the real node and a Service
// for it, waits (watching) until the pod is Ready, and returns its answer
// through the Service, fetched through the API server's service proxy
// (which reaches the pod from inside the node's network).
func runOnRealNode(t *testing.T, cs kubernetes.Interface, name, version string) string {
	t.Helper()
	return runImageOnRealNode(t, cs, name, "agentic-rag/api:"+version, "")
}

// runImageOnRealNode is runOnRealNode with any image that serves like the
// api stand-in, on the named real node ("": any).
func runImageOnRealNode(t *testing.T, cs kubernetes.Interface, name, image, node string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{localcluster.RealNodeLabel: "real"},
			Tolerations:  []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "api", Image: image,
				Ports:          []corev1.ContainerPort{{ContainerPort: 8000}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
	if node != "" {
		pod.Spec.NodeSelector[corev1.LabelHostname] = node
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8000)}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(ctx, t, cs, "default", name)
	// The Service answers once the endpoints controller has published the
	// Ready pod; until then the proxy says it has no endpoint.
	var body []byte
	var lastErr error
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		body, lastErr = cs.CoreV1().Services("default").ProxyGet("http", name, "80", "/hello", nil).DoRaw(ctx)
		return lastErr == nil, nil
	}); err != nil {
		t.Fatalf("request through Service %s: %v (last: %v)", name, err, lastErr)
	}
	return string(body)
}

// waitPodReady watches pod until its Ready condition is True.
func waitPodReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	if err := watchPod(ctx, cs, ns, name, func(p *corev1.Pod) (bool, error) {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		p, _ := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		t.Fatalf("pod %s/%s not Ready: %v\nstatus: %+v", ns, name, err, p.Status)
	}
}

// watchPod watches one pod (within 2 minutes) until cond holds or fails.
func watchPod(ctx context.Context, cs kubernetes.Interface, ns, name string, cond func(*corev1.Pod) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "pods", ns, fields.OneTermEqualSelector("metadata.name", name))
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev apiwatch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		return cond(p)
	})
	return err
}

func TestRealNodeLeavesTheHostAsItFoundIt(t *testing.T) {
	requireRealNodes(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	before := hostState(t, stateDir)

	// Two nodes: their network between them is inside their namespaces too.
	cs, _ := upRealNodeConfig(t, work, stateDir, "--no-controller", "--real-nodes", "2")
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })
	answer := runOnRealNode(t, cs, "probe", "1.0.0")
	if !strings.Contains(answer, `"version":"1.0.0"`) || !strings.Contains(answer, `"pod":"probe"`) {
		t.Fatalf("the pod on the real node answered %q; want its version and name", answer)
	}
	// While it runs, a pod serves through a Service, the node has its
	// bridge, veths, iptables rules and pod namespaces: none of it on the
	// host. Only the nodes' cgroups are global.
	sameHost(t, "during", before, hostState(t, stateDir), "cgroups")

	if down := ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir); down.code != 0 {
		t.Fatalf("local down: %s", down.stderr)
	}
	sameHost(t, "after local down", before, hostState(t, stateDir))
	if left, _ := localcluster.RealNodeProcesses(stateDir); len(left) > 0 {
		t.Fatalf("processes left after local down: %v", left)
	}
}

func TestKilledSupervisorLeavesNothingBehind(t *testing.T) {
	requireRealNodes(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	before := hostState(t, stateDir)
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })

	// alive lists which of pids still run.
	alive := func(pids []int) []string {
		var out []string
		for _, pid := range pids {
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cmdline) > 0 {
				out = append(out, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			}
		}
		return out
	}
	// killed brings a cluster up (checking that this cleaned up what the
	// previous round left), runs a pod on the real node, kills the
	// supervisor with SIGKILL and returns what survived it: shims and
	// containers daemonize away from the supervisor.
	killed := func(pod string, previous []int) []int {
		cs := upRealNode(t, work, stateDir)
		if a := alive(previous); len(a) > 0 {
			t.Fatalf("local up left the killed cluster's processes running:\n%s", strings.Join(a, "\n"))
		}
		runOnRealNode(t, cs, pod, "1.0.0")
		state, err := localcluster.ReadState(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(state.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, map[string]int{"supervisor": state.PID}, 10*time.Second)
		left, err := localcluster.RealNodeProcesses(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(alive(left)) == 0 {
			t.Fatal("nothing survived the supervisor: this test would show nothing")
		}
		return left
	}

	// The next local up cleans up what a killed one left, and works; so
	// does local down.
	left := killed("second", killed("first", nil))
	if down := ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir); down.code != 0 {
		t.Fatalf("local down: %s", down.stderr)
	}
	if a := alive(left); len(a) > 0 {
		t.Fatalf("local down left the killed cluster's processes running:\n%s", strings.Join(a, "\n"))
	}
	sameHost(t, "after a killed supervisor and local down", before, hostState(t, stateDir))
}

// TestRealNodePlumbing: what a real cluster gives pods and users works on
// the real node: cluster DNS from a pod, the API server through the
// kubernetes Service (CoreDNS watches through it), kubectl logs and exec,
// and the node's own identity, confined by NodeRestriction.
func TestRealNodePlumbing(t *testing.T) {
	requireRealNodes(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cs, cfg := upRealNodeConfig(t, work, stateDir, "--no-controller")
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })
	ctx := t.Context()
	runOnRealNode(t, cs, "plumbing", "2.0.0")

	// DNS, asked by the pod's own resolver (CoreDNS answers only because it
	// lists Services through the kubernetes Service). A lookup is retried
	// as resolvers are (a query can be lost: UDP); every retry is logged.
	for name, want := range map[string]string{
		"kubernetes.default.svc.cluster.local": "10.96.0.1",
		"kube-dns.kube-system":                 localcluster.ClusterDNSIP,
	} {
		var body []byte
		var err error
		attempts := 0
		if werr := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			attempts++
			body, err = cs.CoreV1().Pods("default").ProxyGet("http", "plumbing", "8000", "/resolve", map[string]string{"name": name}).DoRaw(ctx)
			if err == nil && strings.Contains(string(body), `"`+want+`"`) {
				return true, nil
			}
			t.Logf("lookup %d of %s: %s %v", attempts, name, body, err)
			return false, nil
		}); werr != nil {
			t.Fatalf("pod resolving %s: %s %v; want %s", name, body, err, want)
		}
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "plumbing", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := cs.CoreV1().Pods("default").ProxyGet("http", "plumbing", "8000", "/resolve", map[string]string{"name": "plumbing.default.svc.cluster.local"}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(body), svc.Spec.ClusterIP) {
		t.Fatalf("pod resolving its own Service: %s %v; want %s", body, err, svc.Spec.ClusterIP)
	}
	// A name outside the cluster is not answered: nothing is forwarded off
	// the machine.
	if _, err := cs.CoreV1().Pods("default").ProxyGet("http", "plumbing", "8000", "/resolve", map[string]string{"name": "example.com"}).DoRaw(ctx); err == nil {
		t.Fatal("example.com resolved: cluster DNS forwards names off the machine")
	}

	// kubectl logs: the stand-in's start-up line.
	logs, err := cs.CoreV1().Pods("default").GetLogs("plumbing", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), "api stand-in 2.0.0") {
		t.Fatalf("logs: %q %v", logs, err)
	}
	// kubectl exec.
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("plumbing").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "api", Command: []string{"/api", "version"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil || strings.TrimSpace(stdout.String()) != "2.0.0" {
		t.Fatalf("exec /api version: %q %q %v", stdout.String(), stderr.String(), err)
	}

	// local load: a docker-save tarball of an image the registry did not
	// have; a pod runs it by its name.
	bin, err := os.ReadFile(filepath.Join(filepath.Dir(binDir), "node", "api"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.FromBinary(image.Binary{Name: "api", Data: bin, OS: "linux", Arch: runtime.GOARCH,
		Config: v1.Config{Entrypoint: []string{"/api"}, User: image.User, Env: []string{"AGENTIC_RAG_VERSION=loaded-7"}}})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("shop/echo:7")
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(work, "echo.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	if res := ragdeploy(t, work, nil, "local", "load", "--state-dir", stateDir, tarPath); res.code != 0 || !strings.Contains(res.stdout, "loaded shop/echo:7") {
		t.Fatalf("local load: exit %d %s %s", res.code, res.stdout, res.stderr)
	}
	if got := runImageOnRealNode(t, cs, "echo", "shop/echo:7", ""); !strings.Contains(got, `"version":"loaded-7"`) {
		t.Fatalf("the loaded image answered %q", got)
	}

	// The node's identity: system:node:real-node-0 reads its own Node and
	// may not touch another (NodeRestriction).
	nodeCfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(stateDir, "pki", "real-node-0.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	// The kubeconfig names the forwarder inside the node's network; from
	// here the API server is on loopback.
	nodeCfg.Host, nodeCfg.ServerName = cfg.Host, ""
	asNode, err := kubernetes.NewForConfig(nodeCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asNode.CoreV1().Nodes().Get(ctx, "real-node-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the node cannot read itself: %v", err)
	}
	patch := []byte(`{"metadata":{"labels":{"hijacked":"true"}}}`)
	if _, err := asNode.CoreV1().Nodes().Patch(ctx, "kwok-node-0", types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the real node patched another node: %v; want Forbidden", err)
	}
}

// retryGet is a shell command that GETs url, trying again each second for
// 30 s while it fails. The Service answers through the API server's proxy
// before the client node's kube-proxy has programmed it (asynchronously,
// with nothing the API shows when it is done); until then its rules
// reject the address (No route to host).
func retryGet(url string) string {
	return `i=0; while [ $i -lt 30 ]; do wget -q -O- '` + url + `' && exit 0; i=$((i+1)); busybox sleep 1; done; exit 1`
}

// TestRealNodesTalkToEachOther: with two real nodes, a pod on one reaches a
// Service whose pod runs on the other, by its cluster DNS name, both ways.
func TestRealNodesTalkToEachOther(t *testing.T) {
	requireRealNodes(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cs, _ := upRealNodeConfig(t, work, stateDir, "--no-controller", "--real-nodes", "2")
	t.Cleanup(func() { ragdeploy(t, work, nil, "local", "down", "--state-dir", stateDir) })
	ctx := t.Context()
	for i, pair := range [][2]string{{"real-node-0", "real-node-1"}, {"real-node-1", "real-node-0"}} {
		server, client := fmt.Sprintf("server-%d", i), fmt.Sprintf("client-%d", i)
		runImageOnRealNode(t, cs, server, "agentic-rag/api:1.0.0", pair[0])
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: client, Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				NodeSelector:  map[string]string{corev1.LabelHostname: pair[1]},
				Tolerations:   []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "get", Image: "busybox:1.37",
					Command: []string{"sh", "-c", retryGet("http://" + server + ".default.svc.cluster.local/from-" + pair[1])}}},
			},
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := watchPod(ctx, cs, "default", client, func(p *corev1.Pod) (bool, error) {
			if p.Status.Phase == corev1.PodFailed {
				return false, fmt.Errorf("%s failed", client)
			}
			return p.Status.Phase == corev1.PodSucceeded, nil
		})
		logs, lerr := cs.CoreV1().Pods("default").GetLogs(client, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || lerr != nil || !strings.Contains(string(logs), `"pod":"`+server+`"`) {
			t.Fatalf("%s on %s asking %s on %s: %v %v, answer %q", client, pair[1], server, pair[0], err, lerr, logs)
		}
	}
}
