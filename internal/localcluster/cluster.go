package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running local control plane. Use Kubeconfig or RESTConfig to
// talk to it and Stop to end it.
type Cluster struct {
	// StateDir holds pki/, logs/, etcd/ and the admin kubeconfig.
	StateDir string
	// Kubeconfig is the path of the admin (system:masters) kubeconfig.
	Kubeconfig string
	// Server is the API server URL.
	Server string
	// RESTConfig authenticates as the admin.
	RESTConfig *rest.Config
	// Nodes are the names of the kwok nodes.
	Nodes []string
	// RealNodes are the names of the real nodes.
	RealNodes []string
	// Registry is the host loopback address of the local image registry
	// real nodes pull from ("" without real nodes).
	Registry string

	opts       Options
	removeDir  bool
	components []*component
	realNodes  []*realNode
	egress     *egressProxy
	registry   *localRegistry
	closers    []func()
	// waitPort numbers WaitAnswered's attempts (picks their source ports).
	waitPort atomic.Int64
	// cancel ends what serves the real nodes (forwarders, registry).
	cancel   context.CancelFunc
	stopOnce sync.Once
}

// ports the components listen on, all on 127.0.0.1.
type ports struct {
	etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok int
}

// Start brings up etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on loopback and returns once the cluster is usable:
// /readyz is ok, every node is Ready without the not-ready taint, the
// default ServiceAccount exists and the Gateway API CRDs are served. On any failure everything started is stopped
// and the error carries the failing component's log tail.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o, err := o.Resolve()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o}
	if err := c.prepareStateDir(); err != nil {
		return nil, err
	}
	// Whatever a killed cluster in this state directory left runs no more.
	if err := Cleanup(c.StateDir); err != nil {
		return nil, err
	}
	var serveCtx context.Context
	serveCtx, c.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if err := c.start(ctx, serveCtx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) prepareStateDir() error {
	dir := c.opts.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ragdeploy-local-")
		if err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		dir = tmp
		c.removeDir = !c.opts.KeepStateDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c.StateDir = abs
	for _, sub := range []string{"pki", "logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o700); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
	}
	return nil
}

// start brings the cluster up within ctx; serveCtx outlives it and ends
// with Stop.
func (c *Cluster) start(ctx, serveCtx context.Context) error {
	p, err := freePorts(6)
	if err != nil {
		return err
	}
	pt := ports{etcdClient: p[0], etcdPeer: p[1], apiserver: p[2], controllerManager: p[3], scheduler: p[4], kwok: p[5]}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(pt.apiserver)

	c.realNodes = newRealNodes(c.StateDir, c.opts.RealNodes, c.opts.KubeProxyMinSyncPeriod)
	keys, err := generatePKI(filepath.Join(c.StateDir, "pki"), c.Server, c.realNodes...)
	if err != nil {
		return err
	}
	apiserverFlags := apiserverArgs(keys, pt)
	if len(c.realNodes) > 0 {
		if c.egress, err = listenEgress(filepath.Join(c.StateDir, "egress.sock")); err != nil {
			return err
		}
		go c.egress.serve(serveCtx)
		egressPath := filepath.Join(c.StateDir, "egress-selector.yaml")
		if err := os.WriteFile(egressPath, []byte(egressConfig(c.egress.ln.Addr().String())), 0o600); err != nil {
			return err
		}
		apiserverFlags = append(apiserverFlags, realNodeAPIServerArgs(keys, egressPath)...)
	}
	c.Kubeconfig = filepath.Join(c.StateDir, "kubeconfig")
	if err := copyFile(keys.kubeconfig("admin"), c.Kubeconfig); err != nil {
		return err
	}
	c.RESTConfig, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load admin kubeconfig: %w", err)
	}
	c.RESTConfig.QPS, c.RESTConfig.Burst = 200, 400
	client, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		return err
	}
	stages, err := stageConfig()
	if err != nil {
		return err
	}
	stagesPath := filepath.Join(c.StateDir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesPath, stages, 0o600); err != nil {
		return err
	}

	etcd, err := c.run("etcd", etcdArgs(c.StateDir, pt))
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd healthy", func(ctx context.Context) (bool, error) {
		return etcdHealthy(ctx, pt.etcdClient), nil
	}, etcd); err != nil {
		return err
	}
	apiserver, err := c.run("kube-apiserver", apiserverFlags)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", func(ctx context.Context) (bool, error) {
		return apiserverReady(ctx, client), nil
	}, apiserver); err != nil {
		return err
	}
	if err := bootstrap(ctx, client, c.opts.Nodes); err != nil {
		return err
	}
	c.Nodes = nodeNames(c.opts.Nodes)

	var rest []*component
	for _, s := range []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", controllerManagerArgs(keys, pt)},
		{"kube-scheduler", schedulerArgs(keys, pt)},
		{"kwok", kwokArgs(keys, pt, stagesPath)},
	} {
		comp, err := c.run(s.name, s.args)
		if err != nil {
			return err
		}
		rest = append(rest, comp)
	}
	if len(c.realNodes) > 0 {
		if err := c.startRealNodes(ctx, serveCtx, client, keys, pt); err != nil {
			return err
		}
		for _, n := range c.realNodes {
			rest = append(rest, n.sandbox)
		}
	}
	if err := c.waitFor(ctx, "nodes Ready and default ServiceAccount", func(ctx context.Context) (bool, error) {
		return clusterUsable(ctx, client, append(append([]string{}, c.Nodes...), c.RealNodes...))
	}, rest...); err != nil {
		return err
	}
	if err := installGatewayAPI(ctx, c.RESTConfig); err != nil {
		return err
	}
	if len(c.realNodes) == 0 {
		return nil
	}
	if err := applyManifest(ctx, c.RESTConfig, corednsManifest); err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	return c.waitFor(ctx, "cluster DNS (CoreDNS on the real node) available", func(ctx context.Context) (bool, error) {
		return deploymentAvailable(ctx, client, "kube-system", "coredns"), nil
	}, rest...)
}

// startRealNodes fills the local registry, publishes the API server's
// in-cluster endpoint and starts each real node's sandbox with its
// forwarders.
func (c *Cluster) startRealNodes(ctx, serveCtx context.Context, client kubernetes.Interface, keys pki, pt ports) error {
	registry, err := newNodeRegistry(filepath.Join(c.StateDir, "registry"), c.opts.NodeBinDir)
	if err != nil {
		return err
	}
	c.registry = registry
	// The registry's face on the host's loopback, for `local load`.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.Registry = ln.Addr().String()
	stop := registry.serve(ln, false)
	c.closers = append(c.closers, stop)
	if err := publishAPIServerEndpoint(ctx, client, c.realNodes[0]); err != nil {
		return fmt.Errorf("kubernetes Service endpoint: %w", err)
	}
	for _, n := range c.realNodes {
		cfg, err := n.writeConfig(keys, c.opts.BinDir)
		if err != nil {
			return err
		}
		if err := n.startSandbox(c.opts.SandboxExecutable, cfg, filepath.Join(c.StateDir, "logs")); err != nil {
			return err
		}
		c.components = append(c.components, n.sandbox)
		if err := n.serve(serveCtx, loopback(pt.apiserver), registry); err != nil {
			return err
		}
		c.egress.add(n)
		c.RealNodes = append(c.RealNodes, n.name)
	}
	return connectNodes(c.realNodes)
}

// run starts a component from the binary directory and records it for Stop.
func (c *Cluster) run(name string, args []string) (*component, error) {
	comp, err := startComponent(name, filepath.Join(c.opts.BinDir, name), args, filepath.Join(c.StateDir, "logs"))
	if err != nil {
		return nil, err
	}
	c.components = append(c.components, comp)
	return comp, nil
}

// waitFor polls cond until it holds. It fails early when one of watched
// exits, and on timeout names what it waited for and shows the logs of the
// watched components.
func (c *Cluster) waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error), watched ...*component) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, comp := range c.components {
			if !comp.running() {
				return comp.exitError()
			}
		}
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("waiting for %s: %v", what, ctx.Err())
			for _, comp := range watched {
				msg += fmt.Sprintf("\nlast lines of %s:\n%s", comp.logPath, logTail(comp.logPath, 15))
			}
			return errors.New(msg)
		case <-tick.C:
		}
	}
}

// Stop ends the components in reverse start order (SIGTERM, then SIGKILL
// after StopTimeout) and removes a state directory Start created. It is safe
// to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		for i := len(c.components) - 1; i >= 0; i-- {
			c.components[i].stop(c.opts.StopTimeout)
		}
		for _, n := range c.realNodes {
			n.close()
		}
		for _, close := range c.closers {
			close()
		}
		if c.egress != nil {
			c.egress.close()
		}
		if c.cancel != nil {
			c.cancel()
		}
		// Pods, shims and anything else the nodes left: gone with their
		// cgroups, and the nodes' namespaces with them.
		_ = Cleanup(c.StateDir)
		if c.removeDir {
			_ = os.RemoveAll(c.StateDir)
		}
	})
}

// PIDs returns the process IDs of the components still running, in start order.
func (c *Cluster) PIDs() map[string]int {
	pids := make(map[string]int, len(c.components))
	for _, comp := range c.components {
		if comp.running() {
			pids[comp.name] = comp.cmd.Process.Pid
		}
	}
	return pids
}

// PushImage stores img in the local registry under ref (e.g.
// agentic-rag/ragdeploy:local), so pods on real nodes can run it by that
// name.
func (c *Cluster) PushImage(ref string, img v1.Image) error {
	if c.registry == nil {
		return errors.New("the local registry runs only with real nodes")
	}
	return c.registry.pushRef(ref, img)
}

// Cleanup removes what real nodes of a cluster in stateDir left running
// (their cgroups, and with the processes in them the nodes' namespaces),
// as after a supervisor that was killed. It is a no-op when there is
// nothing.
func Cleanup(stateDir string) error {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	return removeCgroupTree(cgroupRootOf(abs), 30*time.Second)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600) //nolint:gosec // G703: writes where its caller asked
}

// DialInNode opens a connection from inside the first real node's network
// namespace, where Service and pod addresses are routed (kube-proxy's
// rules, the pod bridge): how the host's tools reach them without sending a
// packet off the machine.
func (c *Cluster) DialInNode(ctx context.Context, network, addr string) (net.Conn, error) {
	if len(c.realNodes) == 0 {
		return nil, errors.New("the cluster has no real node")
	}
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("dial %s: only tcp", network)
	}
	return c.realNodes[0].ns.dial(ctx, addr, nil)
}

// WaitAnswered polls url (http://ADDRESS:PORT/PATH of a Service or pod)
// from inside the first real node until it answers 200 or ctx ends.
//
// Its attempts come from source ports below the node's ephemeral range
// because of what an attempt can leave behind while kube-proxy first
// programs a Service: seen, after attempts refused by the Service's REJECT
// (no endpoint yet), one SYN went out with no DNAT as the REJECT gave way
// to the DNAT. Its conntrack entry (SYN_SENT, no NAT) lives 120 s, and a
// later connection from the same source port follows it past kube-proxy's
// rules to no host at all ("no route to host" 3 s later; shown by dialing
// from that port). A prober started next would have counted such a request
// as failed, though no rollout caused it.
func (c *Cluster) WaitAnswered(ctx context.Context, url string) error {
	if len(c.realNodes) == 0 {
		return errors.New("the cluster has no real node")
	}
	node := c.realNodes[0].ns
	var ephemeral string
	if err := node.do(func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		ephemeral = string(b)
		return err
	}); err != nil {
		return err
	}
	base, n, err := portsBelow(ephemeral)
	if err != nil {
		return err
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		return node.dial(ctx, addr, &net.TCPAddr{Port: base + int(c.waitPort.Add(1)%int64(n))})
	}
	httpc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	var last error
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := httpc.Do(req)
		if err != nil {
			last = err
			return false, nil
		}
		_ = resp.Body.Close()
		last = fmt.Errorf("%s answered %s", url, resp.Status)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last: %w)", err, last)
	}
	return err
}

// portsBelow reads an ip_local_port_range ("32768\t60999") and returns the
// 1000 ports below it (fewer when the range starts low, none below 1024).
func portsBelow(portRange string) (base, n int, err error) {
	fields := strings.Fields(portRange)
	if len(fields) != 2 {
		return 0, 0, fmt.Errorf("ip_local_port_range %q: want two ports", portRange)
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0, 0, fmt.Errorf("ip_local_port_range %q: %w", portRange, err)
	}
	base = max(low-1000, 1024)
	if base >= low {
		return 0, 0, fmt.Errorf("ip_local_port_range %q leaves no unprivileged port below it", portRange)
	}
	return base, low - base, nil
}
