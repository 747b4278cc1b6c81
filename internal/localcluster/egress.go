package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// forward accepts connections on ln and pipes each to a connection from
// dial, until ln is closed.
func forward(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error)) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			upstream, err := dial(dctx)
			if err != nil {
				_ = conn.Close()
				return
			}
			pipe(conn, upstream, nil)
		}()
	}
}

// pipe copies both ways until either side ends, then closes both. pending
// is what was already read from a and is sent to b first.
func pipe(a, b net.Conn, pending []byte) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if len(pending) > 0 {
			if _, err := b.Write(pending); err != nil {
				return
			}
		}
		_, _ = io.Copy(b, a)
		closeWrite(b)
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(a, b)
		closeWrite(a)
	}()
	wg.Wait()
	_ = a.Close()
	_ = b.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// egressProxy is the API server's way into the cluster network (its
// egress selector's "cluster" connection: kubelets for logs and exec,
// the pod and service proxy). It answers HTTP CONNECT on a unix socket and
// dials the target from inside a real node's network, so the API server,
// which runs in the host's network, never sends a packet to a node, pod or
// Service address from there (such a packet would follow the host's
// default route off the machine). A target no real node has a route to
// fails inside the node's namespace.
type egressProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	nodes []*realNode
}

// egressConfig is the API server's EgressSelectorConfiguration for a proxy
// on socket.
func egressConfig(socket string) string {
	return fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, socket)
}

// maxUnixSocketPath is the length limit of a unix socket path on Linux.
const maxUnixSocketPath = 107

func listenEgress(socket string) (*egressProxy, error) {
	if len(socket) > maxUnixSocketPath {
		return nil, fmt.Errorf("state directory too deep for a unix socket (%d > %d characters): %s", len(socket), maxUnixSocketPath, socket)
	}
	_ = os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	return &egressProxy{ln: ln}, nil
}

// add makes a node's network the way in; with several nodes the one whose
// pod range or address holds the target is used.
func (p *egressProxy) add(n *realNode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nodes = append(p.nodes, n)
}

func (p *egressProxy) nodeFor(host string) (*realNode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.nodes) == 0 {
		return nil, errors.New("no real node is running")
	}
	ip := net.ParseIP(host)
	for _, n := range p.nodes {
		_, pods, _ := net.ParseCIDR(n.podCIDR)
		if ip != nil && (ip.Equal(net.ParseIP(n.ip)) || pods.Contains(ip)) {
			return n, nil
		}
	}
	return p.nodes[0], nil
}

func (p *egressProxy) serve(ctx context.Context) {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(ctx, conn)
	}
}

func (p *egressProxy) handle(ctx context.Context, conn net.Conn) {
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(br)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		_ = conn.Close()
		return
	}
	fail := func(code int, err error) {
		fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s", code, http.StatusText(code), len(err.Error()), err.Error())
		_ = conn.Close()
	}
	if req.Method != http.MethodConnect {
		fail(http.StatusMethodNotAllowed, fmt.Errorf("%s: only CONNECT is served", req.Method))
		return
	}
	host, _, err := net.SplitHostPort(req.Host)
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	node, err := p.nodeFor(host)
	if err != nil {
		fail(http.StatusServiceUnavailable, err)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	upstream, err := node.ns.dial(dctx, req.Host, nil)
	if err != nil {
		fail(http.StatusBadGateway, err)
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = conn.Close()
		_ = upstream.Close()
		return
	}
	pending, _ := br.Peek(br.Buffered())
	pipe(conn, upstream, pending)
}

func (p *egressProxy) close() { _ = p.ln.Close() }
