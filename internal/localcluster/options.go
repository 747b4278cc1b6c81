package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Fixed addressing of the simulated cluster. Nothing is routed to these
// ranges: they only fill Service and Pod status fields.
const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
	podCIDR     = "10.244.0.1/16"
)

// EnvBinDir overrides where the control-plane binaries are looked up.
const EnvBinDir = "RAGDEPLOY_CLUSTER_BIN"

// Binaries the local cluster runs, all built by `make cluster-bin`.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// ErrBinariesMissing is returned when a control-plane binary cannot be found.
var ErrBinariesMissing = errors.New("control-plane binaries not found: run `make cluster-bin`")

// Options configure Start. The zero value is valid: Start fills the defaults
// documented on each field (see DefaultOptions).
type Options struct {
	// StateDir holds certificates, kubeconfigs, etcd data and component logs.
	// Default: a new temporary directory, removed by Stop.
	StateDir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Default: $RAGDEPLOY_CLUSTER_BIN, else the first
	// bin/cluster found next to the executable or above the working directory.
	BinDir string
	// Nodes is the number of kwok nodes. Default 3.
	Nodes int
	// ReadyTimeout bounds the whole start-up. Default 60s.
	ReadyTimeout time.Duration
	// StopTimeout is how long each component gets to exit after SIGTERM
	// before it is killed. Default 5s.
	StopTimeout time.Duration
	// KeepStateDir keeps StateDir after Stop (the default removes it when
	// Start created it).
	KeepStateDir bool
	// RealNodes is the number of real nodes (kubelet, kube-proxy, containerd)
	// started beside the kwok nodes. Default 0. They need root, cgroup v1 and
	// the packages `make deps` installs; Resolve says what is missing.
	RealNodes int
	// NodeBinDir holds the binaries of the real nodes' images (pause, api).
	// Default: $RAGDEPLOY_NODE_BIN, else "node" beside BinDir.
	NodeBinDir string
	// SandboxExecutable is re-executed as each real node's sandbox; it must
	// call MaybeRunNodeSandbox first thing in main. Default: this executable.
	SandboxExecutable string
	// KubeProxyMinSyncPeriod is the real nodes' kube-proxy iptables
	// minSyncPeriod: how long after an endpoint change its rules may lag.
	// Default DefaultKubeProxyMinSyncPeriod.
	KubeProxyMinSyncPeriod time.Duration
}

// DefaultKubeProxyMinSyncPeriod is upstream kube-proxy's minSyncPeriod.
const DefaultKubeProxyMinSyncPeriod = time.Second

// MaxRealNodes is how many real nodes a local cluster can have: each takes
// about 250 MiB and a share of the machine's cores.
const MaxRealNodes = 3

// DefaultOptions returns the options Start uses for unset fields.
func DefaultOptions() Options {
	return Options{Nodes: 3, ReadyTimeout: 60 * time.Second, StopTimeout: 5 * time.Second}
}

// Resolve returns o with every unset field defaulted, and an error when a
// field is invalid or a control-plane binary is missing.
func (o Options) Resolve() (Options, error) {
	d := DefaultOptions()
	if o.Nodes == 0 {
		o.Nodes = d.Nodes
	}
	if o.Nodes < 1 || o.Nodes > 100 {
		return o, fmt.Errorf("nodes: %d is out of range, use 1..100", o.Nodes)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = d.ReadyTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = d.StopTimeout
	}
	if o.BinDir == "" {
		o.BinDir = FindBinDir()
	}
	if err := checkBinaries(o.BinDir); err != nil {
		return o, err
	}
	if o.KubeProxyMinSyncPeriod < 0 {
		return o, fmt.Errorf("kube-proxy min sync period: %v is negative", o.KubeProxyMinSyncPeriod)
	}
	if o.KubeProxyMinSyncPeriod == 0 {
		o.KubeProxyMinSyncPeriod = DefaultKubeProxyMinSyncPeriod
	}
	if o.RealNodes < 0 || o.RealNodes > MaxRealNodes {
		return o, fmt.Errorf("real nodes: %d is out of range, use 0..%d", o.RealNodes, MaxRealNodes)
	}
	if o.RealNodes > 0 {
		if o.NodeBinDir == "" {
			o.NodeBinDir = os.Getenv(EnvNodeBinDir)
		}
		if o.NodeBinDir == "" {
			o.NodeBinDir = filepath.Join(filepath.Dir(o.BinDir), "node")
		}
		if o.SandboxExecutable == "" {
			exe, err := os.Executable()
			if err != nil {
				return o, err
			}
			o.SandboxExecutable = exe
		}
		if err := checkRealNodeSupport(o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// EnvNodeBinDir overrides where the real nodes' image binaries are looked up.
const EnvNodeBinDir = "RAGDEPLOY_NODE_BIN"

// FindBinDir returns where the control-plane binaries are expected: the
// $RAGDEPLOY_CLUSTER_BIN directory, else "cluster" beside the running
// executable (bin/ragdeploy -> bin/cluster), else the first bin/cluster in
// the working directory or one of its parents. It returns "" when none exists.
func FindBinDir() string {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		return dir
	}
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "cluster"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, "bin", "cluster"))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			return c
		}
	}
	return ""
}

// checkBinaries reports every binary missing from dir at once.
func checkBinaries(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w (or set %s)", ErrBinariesMissing, EnvBinDir)
	}
	var missing []string
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %v missing in %s", ErrBinariesMissing, missing, dir)
	}
	return nil
}
