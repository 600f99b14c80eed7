// Command pavemaster-node-tools holds the small programs of the local cluster's real node (scripts/node) that
// Kubernetes itself does not ship:
//
//	pavemaster-node-tools netpol ...              NetworkPolicy enforcement: kube-router's firewall controller alone
//	pavemaster-node-tools tcp-forward LISTEN TO   the API server at the node's address, for pods
//	pavemaster-node-tools cri-clean ENDPOINT      stop and remove every pod of a CRI runtime
//
// They are a binary of their own rather than programs of pavemaster-kube: a process of a multi-call binary runs
// the package initialisers of every program linked into it (measured: a forwarder out of pavemaster-kube is
// 106 MB resident, out of this binary 29 MB).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	name := os.Args[1]
	os.Args = os.Args[1:]
	switch name {
	case "netpol":
		os.Exit(runNetpol())
	case "tcp-forward":
		os.Exit(runTCPForward())
	case "cri-clean":
		os.Exit(runCRIClean())
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pavemaster-node-tools netpol [kube-router flags] | tcp-forward LISTEN TARGET [LABEL] | cri-clean ENDPOINT")
	os.Exit(2)
}
