package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// SupervisorLog is the file in the state directory that a background
// cluster's supervisor writes its output to.
const SupervisorLog = "supervisor.log"

// StartBackground runs a cluster that outlives the calling command:
// supervisor is a command that runs one in the foreground and writes its
// State once ready (`ragdeploy local serve`). What a stopped or crashed
// cluster left in stateDir is cleared first; the supervisor runs in a
// session of its own with its output in SupervisorLog, and StartBackground
// waits up to timeout for its State. When it cannot start, the error holds
// the end of its log.
func StartBackground(ctx context.Context, stateDir string, supervisor []string, timeout time.Duration) (State, error) {
	if err := Cleanup(stateDir); err != nil {
		return State{}, fmt.Errorf("clean up what a stopped cluster left in %s: %w", stateDir, err)
	}
	if err := os.RemoveAll(stateDir); err != nil {
		return State{}, fmt.Errorf("clear stale state in %s: %w", stateDir, err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return State{}, err
	}
	logPath := filepath.Join(stateDir, SupervisorLog)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // G304: the state directory's own log
	if err != nil {
		return State{}, err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(supervisor[0], supervisor[1:]...) //nolint:gosec // G204: the caller's own executable, arguments as a list (no shell)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A session of its own: the cluster outlives the command and its terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return State{}, fmt.Errorf("start supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return State{}, fmt.Errorf("local cluster failed to start (%w); %s:\n%s", err, logPath, tail(logPath))
		case <-deadline:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			return State{}, fmt.Errorf("local cluster not ready after %v; see %s", timeout, logPath)
		case <-ctx.Done():
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			return State{}, ctx.Err()
		case <-tick.C:
			if s, err := ReadState(stateDir); err == nil {
				return s, nil
			}
		}
	}
}

// StopBackground stops the cluster whose state is in stateDir: SIGTERM to
// its supervisor (SIGKILL after timeout), then whatever outlives a killed
// supervisor (components, real nodes' pods and namespaces), then the
// directory itself. It reports false when there was no cluster to stop.
func StopBackground(stateDir string, timeout time.Duration) (bool, error) {
	s, err := ReadState(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, statErr := os.Stat(stateDir); errors.Is(statErr, fs.ErrNotExist) {
			return false, nil
		}
	}
	if err == nil && ProcessAlive(s.PID, "local") {
		_ = syscall.Kill(s.PID, syscall.SIGTERM)
		deadline := time.Now().Add(timeout)
		for ProcessAlive(s.PID, "local") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if ProcessAlive(s.PID, "local") {
			_ = syscall.Kill(s.PID, syscall.SIGKILL)
		}
	}
	// Components die with their supervisor (parent-death signal); make sure.
	for name, pid := range s.Components {
		if ProcessAlive(pid, name) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	if err := Cleanup(stateDir); err != nil {
		return true, err
	}
	if err := os.RemoveAll(stateDir); err != nil {
		return true, fmt.Errorf("remove %s: %w", stateDir, err)
	}
	return true, nil
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the state directory's own log
	if err != nil {
		return err.Error()
	}
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}
