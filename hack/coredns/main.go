// Command coredns is the local cluster's DNS server: CoreDNS from its Go
// module with only the plugins a cluster DNS needs (no forward plugin, so a
// name outside the cluster is never asked of a resolver off the machine).
// It runs as a pod on the real nodes, from an image `local up` builds.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order plugins handle a query in, as in CoreDNS's plugin.cfg.
	dnsserver.Directives = []string{"errors", "health", "ready", "kubernetes", "cache", "loadbalance"}
}

func main() { coremain.Run() }
