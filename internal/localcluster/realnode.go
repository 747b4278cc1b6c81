package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/internal/image"
)

// Addressing of real nodes. Node i has the address 198.18.i.2 (the
// benchmarking range, routed nowhere) on the loopback of its own network
// namespace and runs pods in 10.245.i.0/24, outside the range kwok's fake
// pods take their addresses from.
const (
	realNodeIPFormat  = "198.18.%d.2"
	realPodCIDRFormat = "10.245.%d.0/24"
	// nodeAPIServerPort is where, inside each node's network, a forwarder
	// passes connections to the API server on the host's loopback. The
	// kubernetes Service's endpoint points at it.
	nodeAPIServerPort = 6443
	// nodeRegistryPort is where, inside each node's network, the local
	// image registry answers (read-only).
	nodeRegistryPort = 5000
	// ClusterDNSIP is the cluster DNS Service's address.
	ClusterDNSIP = "10.96.0.10"
)

// Marks of a real node: the label to select it by and the taint that keeps
// pods off it unless they tolerate it (only what can run here should).
const (
	RealNodeLabel    = "ragdeploy.io/node-type"
	RealNodeTaintKey = "ragdeploy.io/real-node"
)

// sandboxImage is the pause image containerd runs each pod's sandbox from.
const sandboxImage = "registry.k8s.io/pause:3.10"

// realNode is one node that runs real containers: containerd, kubelet and
// kube-proxy in a network and mount namespace of their own, under a cgroup
// of the cluster's own.
type realNode struct {
	name    string
	index   int
	dir     string
	ip      string
	podCIDR string
	// cgroup is the node's cgroup (kubelet's cgroupRoot); its daemons run in
	// cgroup/runtime, pods in cgroup/kubepods.
	cgroup string
	// proxyMinSync is kube-proxy's iptables minSyncPeriod.
	proxyMinSync time.Duration
	sandbox      *component
	ns           *netns
	closers      []func()
}

func newRealNodes(stateDir string, n int, proxyMinSync time.Duration) []*realNode {
	root := cgroupRootOf(stateDir)
	nodes := make([]*realNode, n)
	for i := range nodes {
		name := fmt.Sprintf("real-node-%d", i)
		nodes[i] = &realNode{
			name: name, index: i,
			dir:     filepath.Join(stateDir, "nodes", name),
			ip:      fmt.Sprintf(realNodeIPFormat, i),
			podCIDR: fmt.Sprintf(realPodCIDRFormat, i),
			cgroup:  root + "/" + name, proxyMinSync: proxyMinSync,
		}
	}
	return nodes
}

// path is a file of the node's directory as the host sees it.
func (n *realNode) path(parts ...string) string {
	return filepath.Join(append([]string{n.dir}, parts...)...)
}

// nodeDirInNode is where the node's directory is bind-mounted inside its
// own mount namespace: the daemons use short paths (unix sockets under
// kubelet's root dir must fit in 107 characters, whatever the state
// directory's path).
const nodeDirInNode = "/var/lib/ragdeploy"

// inNode is a file of the node's directory as the node's daemons see it.
func (n *realNode) inNode(parts ...string) string {
	return filepath.Join(append([]string{nodeDirInNode}, parts...)...)
}

// globalSysctls are the values kubelet sets at start-up whatever the host
// has; the sandbox shows kubelet these values in the node's mount namespace
// only.
var globalSysctls = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// writeConfig writes the node's containerd, CNI, kubelet and kube-proxy
// configuration and the sandbox's own, and returns the sandbox's path.
func (n *realNode) writeConfig(keys pki, binDir string) (string, error) {
	for _, d := range []string{"containerd", "cni", "kubelet", "pod-logs", "tmp", "volume-plugins", "kubelet-certs"} {
		if err := os.MkdirAll(n.path(d), 0o700); err != nil {
			return "", err
		}
	}
	// The socket lives in the node's own /run (a tmpfs in its mount
	// namespace): only the node's processes use it, and a state directory's
	// path can be longer than a unix socket's may be.
	socket := "/run/ragdeploy/containerd.sock"
	files := map[string][]byte{
		"containerd.toml":           []byte(n.containerdConfig(socket)),
		"cni/10-ragdeploy.conflist": n.cniConfig(),
		"resolv.conf":               []byte("# pods resolve through cluster DNS only; nothing is forwarded off the machine\noptions ndots:5\n"),
	}
	kubelet, err := yaml.Marshal(n.kubeletConfig(keys, socket))
	if err != nil {
		return "", err
	}
	proxy, err := yaml.Marshal(n.kubeProxyConfig(keys))
	if err != nil {
		return "", err
	}
	files["kubelet.yaml"], files["kube-proxy.yaml"] = kubelet, proxy
	for name, data := range files {
		if err := os.WriteFile(n.path(name), data, 0o600); err != nil {
			return "", err
		}
	}
	cfg := sandboxConfig{
		Name: n.name, Dir: n.dir, LogDir: filepath.Join(filepath.Dir(filepath.Dir(n.dir)), "logs"),
		Cgroup: n.cgroup + "/runtime", NodeIP: n.ip, ServiceCIDR: serviceCIDR,
		Sysctls: globalSysctls, ContainerdSocket: socket,
		Env: append(componentEnv(), "TMPDIR="+n.inNode("tmp")),
		Daemons: []daemon{
			{"containerd", []string{"containerd", "--config", n.inNode("containerd.toml")}},
			{"kubelet", []string{
				filepath.Join(binDir, "kubelet"),
				"--config=" + n.inNode("kubelet.yaml"),
				"--kubeconfig=" + keys.kubeconfig(n.name),
				"--root-dir=" + n.inNode("kubelet"),
				"--cert-dir=" + n.inNode("kubelet-certs"),
				"--hostname-override=" + n.name,
				"--node-ip=" + n.ip,
				"--node-labels=" + RealNodeLabel + "=real",
			}},
			{"kube-proxy", []string{filepath.Join(binDir, "kube-proxy"), "--config=" + n.inNode("kube-proxy.yaml")}},
		},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := n.path("sandbox.json")
	return path, os.WriteFile(path, data, 0o600)
}

// containerdConfig: every path under the node's directory, runc with
// cgroupfs, oom_score_adj restricted (root here lacks CAP_SYS_RESOURCE, so a
// negative value would fail every sandbox), no AppArmor, pod network
// namespaces under the state dir, and every registry mirrored to the local
// one so manifests keep their image names.
func (n *realNode) containerdConfig(socket string) string {
	registry := "http://127.0.0.1:" + strconv.Itoa(nodeRegistryPort)
	var mirrors strings.Builder
	for _, host := range []string{"docker.io", "registry.k8s.io", "ghcr.io", "quay.io"} {
		fmt.Fprintf(&mirrors, "[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n  endpoint = [%q]\n", host, registry)
	}
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q
[ttrpc]
  address = %q
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = %q
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = %q
  conf_dir = %q
%s`, n.inNode("containerd", "root"), n.inNode("containerd", "state"), socket, socket+".ttrpc",
		n.inNode("containerd", "opt"), sandboxImage, n.inNode("containerd", "runc"), cniBinDir(), n.inNode("cni"), mirrors.String())
}

// cniBinDirs are where distributions install the CNI plugins.
var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

func cniBinDir() string {
	for _, d := range cniBinDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			return d
		}
	}
	return cniBinDirs[0]
}

// cniConfig: a bridge with the node's pod range; isGateway sets ip_forward
// (inside the node's namespace), hairpin lets a pod reach itself through a
// Service.
func (n *realNode) cniConfig() []byte {
	data, _ := json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "ragdeploy",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": n.podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}, "", "  ")
	return data
}

// kubeletConfig: cgroup v1 allowed (the host has no other), cgroupfs, the
// node's cgroup as root, every path under the node's directory, x509 and
// webhook authentication (the API server's kubelet client certificate),
// webhook authorization, the real-node taint, and eviction thresholds that
// a shared development disk does not trip.
func (n *realNode) kubeletConfig(keys pki, socket string) map[string]any {
	return map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"failCgroupV1":             false,
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               "/" + n.cgroup,
		"cgroupsPerQOS":            true,
		"enforceNodeAllocatable":   []string{"pods"},
		"containerRuntimeEndpoint": "unix://" + socket,
		"podLogsDir":               n.inNode("pod-logs"),
		"volumePluginDir":          n.inNode("volume-plugins"),
		"failSwapOn":               false,
		"registerWithTaints":       []any{map[string]any{"key": RealNodeTaintKey, "value": "true", "effect": "NoSchedule"}},
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": keys.path("ca.crt")},
		},
		"authorization":               map[string]any{"mode": "Webhook"},
		"tlsCertFile":                 keys.path(n.name + "-kubelet.crt"),
		"tlsPrivateKeyFile":           keys.path(n.name + "-kubelet.key"),
		"address":                     n.ip,
		"readOnlyPort":                0,
		"healthzBindAddress":          "127.0.0.1",
		"clusterDNS":                  []string{ClusterDNSIP},
		"clusterDomain":               "cluster.local",
		"resolvConf":                  n.inNode("resolv.conf"),
		"rotateCertificates":          false,
		"serverTLSBootstrap":          false,
		"protectKernelDefaults":       false,
		"evictionHard":                map[string]string{"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
		"imageGCHighThresholdPercent": 99,
		"imageGCLowThresholdPercent":  98,
		"nodeStatusReportFrequency":   "10s",
	}
}

// kubeProxyConfig: iptables mode with upstream's sync periods unless told
// otherwise, and every setting that would touch a global (conntrack table
// sizes and timeouts, route_localnet for localhost NodePorts) left alone.
func (n *realNode) kubeProxyConfig(keys pki) map[string]any {
	return map[string]any{
		"apiVersion":         "kubeproxy.config.k8s.io/v1alpha1",
		"kind":               "KubeProxyConfiguration",
		"mode":               "iptables",
		"hostnameOverride":   n.name,
		"clientConnection":   map[string]any{"kubeconfig": keys.kubeconfig(n.name + "-kube-proxy")},
		"clusterCIDR":        "10.245.0.0/16",
		"healthzBindAddress": "127.0.0.1:10256",
		"metricsBindAddress": "127.0.0.1:10249",
		"conntrack": map[string]any{
			"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s",
			"udpTimeout": "0s", "udpStreamTimeout": "0s",
		},
		"iptables": map[string]any{"localhostNodePorts": false, "minSyncPeriod": n.proxyMinSync.String(), "syncPeriod": "30s"},
	}
}

// startSandbox clones the node's sandbox into a new network and mount
// namespace (re-executing exe, which calls MaybeRunNodeSandbox) inside its
// cgroup, and opens its network namespace for the forwarders.
func (n *realNode) startSandbox(exe, sandboxConfig, logDir string) error {
	if err := makeCgroup(n.cgroup + "/runtime"); err != nil {
		return err
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	env := append(componentEnv(), EnvNodeSandbox+"="+sandboxConfig)
	c, err := startProcess(n.name, exe, nil, logDir, env, attr)
	if err != nil {
		return err
	}
	n.sandbox = c
	n.ns, err = openNetns(c.cmd.Process.Pid)
	return err
}

// serve runs, inside the node's network, the API server forwarder and the
// read-only face of the local registry.
func (n *realNode) serve(ctx context.Context, apiserver string, registry *localRegistry) error {
	api, err := n.ns.listen(":" + strconv.Itoa(nodeAPIServerPort))
	if err != nil {
		return fmt.Errorf("%s: API server forwarder: %w", n.name, err)
	}
	reg, err := n.ns.listen(":" + strconv.Itoa(nodeRegistryPort))
	if err != nil {
		_ = api.Close()
		return fmt.Errorf("%s: registry: %w", n.name, err)
	}
	go forward(ctx, api, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", apiserver)
	})
	stopRegistry := registry.serve(reg, true)
	n.closers = append(n.closers, func() { _ = api.Close() }, stopRegistry, n.ns.close)
	return nil
}

func (n *realNode) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

// ErrRealNodesUnsupported is returned by Resolve when real nodes cannot run
// on this machine; the error says why.
var ErrRealNodesUnsupported = errors.New("real nodes cannot run here")

// nodeImageBinaries are built by `make cluster-bin` into the node bin dir.
var nodeImageBinaries = []string{"pause", "api", "coredns"}

// checkRealNodeSupport reports, all at once, what real nodes would lack:
// root, cgroup v1 hierarchies, kubelet and kube-proxy, the host packages
// (containerd, runc, iptables, conntrack, CNI plugins), the image binaries,
// and a state directory outside the paths the nodes hide.
func checkRealNodeSupport(o Options) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "not root (network and mount namespaces, cgroups and iptables need it)")
	}
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		problems = append(problems, "the host uses cgroup v2 only; real nodes here are set up for cgroup v1 hierarchies")
	} else {
		for _, h := range []string{"cpu", "cpuset", "memory", "pids"} {
			if fi, err := os.Stat(filepath.Join(cgroupMount, h)); err != nil || !fi.IsDir() {
				problems = append(problems, "no cgroup v1 "+h+" hierarchy under "+cgroupMount)
			}
		}
	}
	for _, b := range []string{"kubelet", "kube-proxy"} {
		if !executable(filepath.Join(o.BinDir, b)) {
			problems = append(problems, b+" missing in "+o.BinDir+" (run `make cluster-bin`)")
		}
	}
	for _, b := range nodeImageBinaries {
		if !executable(filepath.Join(o.NodeBinDir, b)) {
			problems = append(problems, "image binary "+b+" missing in "+o.NodeBinDir+" (run `make cluster-bin`)")
		}
	}
	var packages []string
	for _, tool := range []string{"containerd", "runc", "iptables", "ip6tables", "conntrack", "ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			packages = append(packages, tool)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if !executable(filepath.Join(cniBinDir(), plugin)) {
			packages = append(packages, "CNI plugin "+plugin)
		}
	}
	if len(packages) > 0 {
		problems = append(problems, "missing "+strings.Join(packages, ", ")+" (run `make deps`: containerd runc containernetworking-plugins iptables conntrack)")
	}
	if o.StateDir != "" {
		if abs, err := filepath.Abs(o.StateDir); err == nil {
			for _, d := range hiddenDirs {
				if abs == d || strings.HasPrefix(abs, d+"/") {
					problems = append(problems, "state directory "+abs+" is under "+d+", which real nodes hide; choose another")
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  - %s", ErrRealNodesUnsupported, strings.Join(problems, "\n  - "))
	}
	return nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// fabricIP is node i's address on the network between the nodes.
func fabricIP(i int) string { return fmt.Sprintf("198.19.0.%d", i+1) }

// inNodeNetwork runs ip (iproute2) inside a node's network namespace.
func inNodeNetwork(n *realNode, args ...string) error {
	argv := append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", n.sandbox.cmd.Process.Pid), "ip"}, args...)
	out, err := exec.Command("nsenter", argv...).CombinedOutput() //nolint:gosec // G204: iproute2 in a namespace of our own, arguments as a list
	if err != nil {
		return fmt.Errorf("%s: ip %s: %w: %s", n.name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// connectNodes joins the real nodes' networks: a bridge in the first
// node's namespace, a veth from each other node's namespace to it, and in
// every node a route to each other node's address and pod range. Each veth
// is created directly in the two namespaces it joins; nothing is added to
// the host's network, and nothing routes off the machine.
func connectNodes(nodes []*realNode) error {
	if len(nodes) < 2 {
		return nil
	}
	hub := nodes[0]
	type ipStep struct {
		n    *realNode
		args []string
	}
	steps := []ipStep{
		{hub, []string{"link", "add", "fabric", "type", "bridge"}},
		{hub, []string{"addr", "add", fabricIP(0) + "/24", "dev", "fabric"}},
		{hub, []string{"link", "set", "fabric", "up"}},
	}
	for _, n := range nodes[1:] {
		peer := fmt.Sprintf("fabric-%d", n.index)
		out, err := exec.Command("ip", "link", "add", "name", "fabric", "netns", strconv.Itoa(n.sandbox.cmd.Process.Pid), //nolint:gosec // G204: iproute2 with arguments as a list (no shell)
			"type", "veth", "peer", "name", peer, "netns", strconv.Itoa(hub.sandbox.cmd.Process.Pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("link %s to %s: %w: %s", n.name, hub.name, err, strings.TrimSpace(string(out)))
		}
		steps = append(steps,
			ipStep{hub, []string{"link", "set", peer, "master", "fabric", "up"}},
			ipStep{n, []string{"addr", "add", fabricIP(n.index) + "/24", "dev", "fabric"}},
			ipStep{n, []string{"link", "set", "fabric", "up"}},
		)
	}
	for _, s := range steps {
		if err := inNodeNetwork(s.n, s.args...); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		for _, m := range nodes {
			if m == n {
				continue
			}
			for _, dst := range []string{m.ip + "/32", m.podCIDR} {
				if err := inNodeNetwork(n, "route", "add", dst, "via", fabricIP(m.index)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// binaryImage wraps one of the node bin dir's binaries in an image.
func binaryImage(dir, name string, cfg v1.Config) (v1.Image, error) {
	data, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: a binary `make cluster-bin` built
	if err != nil {
		return nil, err
	}
	cfg.Entrypoint = []string{"/" + name}
	return image.FromBinary(image.Binary{Name: name, Data: data, OS: "linux", Arch: runtime.GOARCH, Created: time.Unix(0, 0).UTC(), Config: cfg})
}

// newNodeRegistry fills a local registry with the images every real node
// needs: the pause image and the api stand-in (for any tag).
func newNodeRegistry(dir, nodeBinDir string) (*localRegistry, error) {
	pause, err := binaryImage(nodeBinDir, "pause", v1.Config{User: "65535:65535"})
	if err != nil {
		return nil, err
	}
	api, err := binaryImage(nodeBinDir, "api", v1.Config{
		User: image.User, ExposedPorts: map[string]struct{}{"8000/tcp": {}},
		Labels: map[string]string{"org.opencontainers.image.title": "agentic-rag api stand-in"},
	})
	if err != nil {
		return nil, err
	}
	coredns, err := binaryImage(nodeBinDir, "coredns", v1.Config{User: image.User})
	if err != nil {
		return nil, err
	}
	r, err := newLocalRegistry(dir, api)
	if err != nil {
		return nil, err
	}
	if r.busybox, err = hostBusybox(); err != nil {
		return nil, err
	}
	for ref, img := range map[string]v1.Image{sandboxImage: pause, corednsImage: coredns} {
		if err := r.pushRef(ref, img); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// hostBusyboxPath is Debian's busybox-static (make deps installs it).
const hostBusyboxPath = "/bin/busybox"

// hostBusybox is an image of the host's static busybox, with sh, wget and
// nc linked to it: what the platform chart's test (busybox) runs. Its
// version is Debian's, whatever tag is asked for. Without one it is nil
// and busybox images are not found.
func hostBusybox() (v1.Image, error) {
	data, err := os.ReadFile(hostBusyboxPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return image.FromBinary(image.Binary{
		Name: "bin/busybox", Data: data, OS: "linux", Arch: runtime.GOARCH, Created: time.Unix(0, 0).UTC(),
		Links:  []string{"bin/sh", "bin/wget", "bin/nc"},
		Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}},
	})
}

// publishAPIServerEndpoint points the kubernetes Service at the API server
// forwarder inside the first real node's network, so pods reach the API
// server through the Service address (the endpoint reconciler is off: the
// API server's own address is host loopback, which pods cannot reach).
func publishAPIServerEndpoint(ctx context.Context, client kubernetes.Interface, n *realNode) error {
	ready := true
	port := int32(nodeAPIServerPort)
	protocol := corev1.ProtocolTCP
	portName := "https"
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "local.ragdeploy.io"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{n.ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &protocol}},
	}
	_, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
