// Command coredns is the local cluster's DNS server: CoreDNS with only the plugins its Corefile uses
// (scripts/localcluster/coredns.yaml), as CoreDNS documents for a build from external source. Upstream's main
// imports github.com/coredns/coredns/core/plugin, which links every plugin (cloud DNS providers, etcd, ...).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins of our Corefile. core/dnsserver itself links bind, forward and whoami.
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives is the order in which the plugins handle a query: upstream's order (core/dnsserver/zdirectives.go)
// restricted to the plugins linked here.
var directives = []string{
	"bind", "ready", "health", "prometheus", "errors", "log", "loadbalance", "cache", "kubernetes",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
