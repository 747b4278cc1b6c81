package localcluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// component is one running control-plane process.
type component struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// exited is closed once the process has been reaped; err is its result.
	exited chan struct{}
	err    error
}

// startComponent runs binary with args in its own process group, output to
// <logDir>/<name>.log. The kernel kills it if the starting process dies
// (Pdeathsig), so an interrupted test or supervisor leaves nothing behind.
func startComponent(name, binary string, args []string, logDir string) (*component, error) {
	return startComponentEnv(name, binary, args, logDir, componentEnv())
}

// startComponentEnv is startComponent with the component's environment.
func startComponentEnv(name, binary string, args []string, logDir string, env []string) (*component, error) {
	return startProcess(name, binary, args, logDir, env, &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL})
}

// startProcess starts the component with the given process attributes.
func startProcess(name, binary string, args []string, logDir string, env []string, attr *syscall.SysProcAttr) (*component, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	cmd := exec.Command(binary, args...) //nolint:gosec // G204: runs a binary this program built or pinned, with arguments as a list (no shell)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = env
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, binary, err)
	}
	c := &component{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		_ = logFile.Close()
		close(c.exited)
	}()
	return c, nil
}

// componentEnv is the environment of every component: the caller's, without
// settings that would point kwok or client libraries at another cluster.
func componentEnv() []string {
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	// kwok reads ~/.kwok/kwok.yaml by default; keep a user's file out.
	return append(env, "KWOK_WORKDIR="+os.TempDir())
}

// running reports whether the process has not exited yet.
func (c *component) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// exitError describes an unexpected exit with the tail of the component's log.
func (c *component) exitError() error {
	status := "exit status 0"
	if c.err != nil {
		status = c.err.Error()
	}
	return fmt.Errorf("%s exited (%s); last lines of %s:\n%s", c.name, status, c.logPath, logTail(c.logPath, 20))
}

// stop sends SIGTERM to the component's process group, and SIGKILL if it has
// not exited after timeout. It returns once the process has been reaped.
func (c *component) stop(timeout time.Duration) {
	if !c.running() {
		return
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(timeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.exited
	}
	// Anything the component forked into its group goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path) //nolint:gosec // G304: reads the file the user named (flag, environment or state dir); reading it is the point
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + string(bytes.Join(lines, []byte("\n  ")))
}

// freePorts reserves n distinct loopback TCP ports by listening on port 0,
// then releases them for the components to bind.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
