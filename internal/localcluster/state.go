package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StateFile is written into the state directory by a background cluster
// (`ragdeploy local up`) once it is ready, and removed when it stops.
const StateFile = "cluster.json"

// State describes a running background cluster.
type State struct {
	// PID is the supervising process; the components are its children.
	PID        int      `json:"pid"`
	Server     string   `json:"server"`
	Kubeconfig string   `json:"kubeconfig"`
	Nodes      []string `json:"nodes"`
	RealNodes  []string `json:"realNodes,omitempty"`
	// Registry is the local image registry's host loopback address.
	Registry   string         `json:"registry,omitempty"`
	Components map[string]int `json:"components"`
	StartedAt  time.Time      `json:"startedAt"`
	// ReadySeconds is how long the start took.
	ReadySeconds float64 `json:"readySeconds"`
	// ControllerLog is the log of the Rollout controller running
	// in the supervising process ("" when it does not run).
	ControllerLog string `json:"controllerLog,omitempty"`
	// ControllerRelease is the controller chart's release (namespace/name)
	// when the controller runs as pods on the real nodes.
	ControllerRelease string `json:"controllerRelease,omitempty"`
}

// StateOf returns the state of the running cluster c, supervised by pid.
func (c *Cluster) StateOf(pid int, started time.Time, ready time.Duration) State {
	return State{
		PID: pid, Server: c.Server, Kubeconfig: c.Kubeconfig, Nodes: c.Nodes, RealNodes: c.RealNodes, Registry: c.Registry,
		Components: c.PIDs(), StartedAt: started, ReadySeconds: ready.Seconds(),
	}
}

// WriteState atomically writes s into dir.
func WriteState(dir string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}

// ReadState reads the state file in dir. It returns an error wrapping
// os.ErrNotExist when no cluster has been started there.
func ReadState(dir string) (State, error) {
	var s State
	data, err := os.ReadFile(filepath.Join(dir, StateFile)) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return s, nil
}

// ProcessAlive reports whether pid is a live process whose command line
// contains want (guarding against a recycled PID).
func ProcessAlive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	// A zombie has an empty command line: it is not alive.
	return len(cmdline) > 0 && strings.Contains(string(cmdline), want)
}

// ProcessRSSMiB reads the resident memory of pid from /proc.
func ProcessRSSMiB(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
