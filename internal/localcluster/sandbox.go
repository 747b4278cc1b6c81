package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EnvNodeSandbox names the sandbox configuration file when this process is a
// real node's sandbox (see MaybeRunNodeSandbox).
const EnvNodeSandbox = "RAGDEPLOY_NODE_SANDBOX"

// sandboxConfig is what a real node's sandbox process needs: it runs in a
// new network and mount namespace (cloned by the supervisor), prepares them
// and runs containerd, kubelet and kube-proxy inside.
type sandboxConfig struct {
	Name string `json:"name"`
	// Dir is the node's directory in the state dir.
	Dir    string `json:"dir"`
	LogDir string `json:"logDir"`
	// Cgroup is where the sandbox and its daemons run (relative to each
	// hierarchy), inside the cluster's cgroup root.
	Cgroup      string `json:"cgroup"`
	NodeIP      string `json:"nodeIP"`
	ServiceCIDR string `json:"serviceCIDR"`
	// Sysctls are the global values kubelet insists on, by /proc/sys path
	// (vm/overcommit_memory): inside the node's mount namespace only, so
	// kubelet sees them and writes nothing to the host's.
	Sysctls map[string]string `json:"sysctls"`
	// ContainerdSocket is waited for before kubelet starts.
	ContainerdSocket string `json:"containerdSocket"`
	// Daemons run in this order, each as argv.
	Daemons []daemon `json:"daemons"`
	Env     []string `json:"env"`
}

type daemon struct {
	Name string   `json:"name"`
	Argv []string `json:"argv"`
}

// hiddenDirs get an empty tmpfs in the node's mount namespace: the paths
// containerd, the CNI library and kubelet use whatever their configuration
// says (/run/containerd/s, /var/lib/cni, /var/lib/kubelet/device-plugins,
// /var/log/containers) stay off the host.
var hiddenDirs = []string{"/run", "/var/lib", "/var/log"}

// MaybeRunNodeSandbox runs a real node's sandbox and exits when this process
// was started as one (the supervisor re-executes its own binary with
// EnvNodeSandbox set); otherwise it returns at once. Call it first in main.
func MaybeRunNodeSandbox() {
	path := os.Getenv(EnvNodeSandbox)
	if path == "" {
		return
	}
	if err := runSandbox(path); err != nil {
		fmt.Fprintf(os.Stderr, "node sandbox: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runSandbox(path string) error {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the sandbox configuration the supervisor wrote
	if err != nil {
		return err
	}
	var cfg sandboxConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Before anything else: no mount made here may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := joinCgroup(cfg.Cgroup); err != nil {
		return err
	}
	if err := prepareMounts(cfg); err != nil {
		return err
	}
	if err := prepareNetwork(cfg); err != nil {
		return err
	}
	fmt.Printf("sandbox %s ready: node IP %s, Services %s routed inside the namespace only\n", cfg.Name, cfg.NodeIP, cfg.ServiceCIDR)
	return runDaemons(cfg)
}

type mountStep struct {
	what                   string
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// prepareMounts remounts sysfs for the new network namespace (keeping the
// cgroup v1 tree, which a plain remount would drop), hides the fixed paths
// under tmpfs and overlays the global sysctls kubelet rewrites.
func prepareMounts(cfg sandboxConfig) error {
	aside := filepath.Join(cfg.Dir, "cgroup-aside")
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return err
	}
	steps := []mountStep{
		{"keep the cgroup tree", cgroupMount, aside, "", unix.MS_BIND | unix.MS_REC, ""},
		{"sysfs of the node's network", "sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"put the cgroup tree back", aside, cgroupMount, "", unix.MS_MOVE, ""},
	}
	for _, d := range hiddenDirs {
		steps = append(steps, mountStep{"hide " + d, "tmpfs", d, "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755,size=256m"})
	}
	steps = append(steps, mountStep{"the node's directory at a short path", cfg.Dir, nodeDirInNode, "", unix.MS_BIND, ""})
	for _, s := range steps {
		if s.target == nodeDirInNode {
			if err := os.MkdirAll(nodeDirInNode, 0o700); err != nil {
				return err
			}
		}
		if err := unix.Mount(s.source, s.target, s.fstype, s.flags, s.data); err != nil {
			return fmt.Errorf("%s (mount %s on %s): %w", s.what, s.source, s.target, err)
		}
	}
	sysctlDir := filepath.Join(cfg.Dir, "sysctl")
	if err := os.MkdirAll(sysctlDir, 0o700); err != nil {
		return err
	}
	for name, value := range cfg.Sysctls {
		file := filepath.Join(sysctlDir, strings.ReplaceAll(name, "/", "."))
		if err := os.WriteFile(file, []byte(value+"\n"), 0o600); err != nil {
			return err
		}
		target := filepath.Join("/proc/sys", name)
		if err := unix.Mount(file, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("overlay sysctl %s: %w", name, err)
		}
	}
	return nil
}

// prepareNetwork gives the node its address on loopback and routes the
// Service range to a veth whose peer stays down: connect() to a ClusterIP
// then reaches kube-proxy's DNAT instead of failing for want of a route,
// and whatever is not DNAT'd to a pod is dropped here. There is no default
// route: nothing can leave the namespace, let alone the machine.
func prepareNetwork(cfg sandboxConfig) error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", cfg.NodeIP + "/32", "dev", "lo"},
		{"link", "add", "svc0", "type", "veth", "peer", "name", "svc0-peer"},
		{"link", "set", "svc0", "up"},
		{"route", "add", cfg.ServiceCIDR, "dev", "svc0"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput() //nolint:gosec // G204: iproute2 with arguments as a list (no shell)
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	// The node routes between its pods and the other nodes (this
	// namespace's own setting; the host's ip_forward is not touched).
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o600)
}

// runDaemons starts containerd, kubelet and kube-proxy and supervises them:
// if one exits the others are stopped and the sandbox fails with its log
// tail; on SIGTERM all are stopped and the sandbox exits cleanly.
func runDaemons(cfg sandboxConfig) error {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	var running []*component
	stopAll := func() {
		for i := len(running) - 1; i >= 0; i-- {
			running[i].stop(5 * time.Second)
		}
	}
	env := cfg.Env
	for _, d := range cfg.Daemons {
		c, err := startComponentEnv(cfg.Name+"-"+d.Name, d.Argv[0], d.Argv[1:], cfg.LogDir, env)
		if err != nil {
			stopAll()
			return err
		}
		running = append(running, c)
		if d.Name == "containerd" {
			if err := waitForSocket(cfg.ContainerdSocket, c, 30*time.Second); err != nil {
				stopAll()
				return err
			}
		}
	}
	exited := make(chan *component, len(running))
	for _, c := range running {
		go func() { <-c.exited; exited <- c }()
	}
	select {
	case <-signals:
		stopAll()
		return nil
	case c := <-exited:
		stopAll()
		return c.exitError()
	}
}

func waitForSocket(path string, c *component, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if !c.running() {
			return c.exitError()
		}
		if time.Now().After(deadline) {
			return errors.New("containerd socket " + path + " did not appear within " + timeout.String())
		}
		time.Sleep(20 * time.Millisecond) // a socket file has no readiness event to wait on
	}
}
