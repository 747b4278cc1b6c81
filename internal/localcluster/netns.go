package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// netns is a network namespace of a real node, held open by a file
// descriptor so the namespace stays the same one while it is used.
type netns struct {
	file *os.File
}

// openNetns opens the network namespace of process pid.
func openNetns(pid int) (*netns, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("open network namespace of pid %d: %w", pid, err)
	}
	return &netns{file: f}, nil
}

func (n *netns) close() { _ = n.file.Close() }

// do runs fn on an OS thread switched into the namespace. Sockets fn
// creates belong to the namespace for their whole life, so a listener or a
// connection made here carries traffic inside the node's network only,
// while the rest of this process stays in the host's. If the thread cannot
// be switched back it stays locked and dies with fn's goroutine.
func (n *netns) do(fn func() error) error {
	runtime.LockOSThread()
	host, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() { _ = host.Close() }()
	if err := unix.Setns(int(n.file.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the node's network namespace: %w", err)
	}
	fnErr := fn()
	if err := unix.Setns(int(host.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("return to the host's network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// listen opens a TCP listener inside the namespace.
func (n *netns) listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.do(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// dial connects to addr from inside the namespace, from local (nil: an
// ephemeral port the kernel picks).
func (n *netns) dial(ctx context.Context, addr string, local *net.TCPAddr) (net.Conn, error) {
	var conn net.Conn
	err := n.do(func() error {
		var err error
		d := net.Dialer{}
		if local != nil {
			d.LocalAddr = local
		}
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}
