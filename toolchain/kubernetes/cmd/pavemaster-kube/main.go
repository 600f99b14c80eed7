// Command pavemaster-kube is one binary for the Kubernetes daemons of the local cluster, in the manner of the old
// hyperkube: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy from
// k8s.io/kubernetes v1.36.3. Each program's main below is upstream's main (cmd/<name>/<name>.go), word for word.
//
// It runs the program named by the name it was started under (scripts/toolchain links kube-apiserver, kubelet,
// ... to it) or, failing that, by its first argument (`pavemaster-kube kubelet --config ...`). One link of this
// ~140 MB binary instead of five saves the cold build four links.
//
// kubectl is not in it: every process of a multi-call binary runs the package initialisers of all its programs,
// which for a short-lived client costs more than the link saves (measured on this project's machine: `kubectl
// version --client` 82 ms and 106 MB resident from this binary, 44 ms and 47 MB alone, and the tests and scripts
// run kubectl thousands of times). scripts/toolchain builds kubectl from k8s.io/kubernetes/cmd/kubectl in this
// module, beside this binary.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // kube-apiserver and kube-controller-manager: time zones of CronJobs

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

type program struct {
	about string
	run   func() int
}

var programs = map[string]program{
	"kube-apiserver": {"the API server", func() int { return cli.Run(apiserver.NewAPIServerCommand()) }},
	"kube-controller-manager": {"the controller manager", func() int {
		return cli.Run(controllermanager.NewControllerManagerCommand())
	}},
	"kube-scheduler": {"the scheduler", func() int { return cli.Run(scheduler.NewSchedulerCommand()) }},
	"kubelet": {"the node agent", func() int {
		return cli.Run(kubelet.NewKubeletCommand(context.Background()))
	}},
	"kube-proxy": {"the Service proxy", func() int { return cli.Run(proxy.NewProxyCommand()) }},
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := programs[name]; !ok && len(os.Args) > 1 {
		if _, ok := programs[os.Args[1]]; ok {
			name = os.Args[1]
			os.Args = os.Args[1:]
		}
	}
	p, ok := programs[name]
	if !ok {
		usage()
		os.Exit(2)
	}
	os.Exit(p.run())
}

func usage() {
	names := make([]string, 0, len(programs))
	for n := range programs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: pavemaster-kube PROGRAM [args...], or start it under the name of a program\n\n")
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-24s %s\n", n, programs[n].about)
	}
}
