package main

// netpol runs kube-router's NetworkPolicy controller (github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol)
// and nothing else of kube-router: no BGP routing, no service proxy (kube-proxy does that), no CNI setup. It
// enforces every NetworkPolicy of the cluster for the pods of this node with iptables and ipsets, as kube-router
// does with `--run-firewall --run-router=false --run-service-proxy=false`; its main is kube-router's Run(),
// reduced to the firewall.
//
// Flags are kube-router's (--kubeconfig, --hostname-override, --service-cluster-ip-range, ...), plus:
//
//	--ready-file PATH  written once the first full sync of the rules is done (scripts/node waits for it)
//	--cleanup          remove every chain, rule and ipset the controller made, and exit

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/spf13/pflag"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func runNetpol() int {
	config := options.NewKubeRouterConfig()
	fs := pflag.NewFlagSet("netpol", pflag.ContinueOnError)
	config.AddFlags(fs)
	readyFile := fs.String("ready-file", "", "file to write once the first full sync is done")
	cleanup := fs.Bool("cleanup", false, "remove the controller's chains, rules and ipsets, then exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		return 2
	}
	// The firewall alone: kube-proxy serves Services and the CNI bridge routes pods.
	config.RunFirewall, config.RunRouter, config.RunServiceProxy, config.RunLoadBalancer = true, false, false, false
	if config.Kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "netpol: --kubeconfig is required")
		return 2
	}
	if err := netpolMain(config, *readyFile, *cleanup); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		return 1
	}
	return 0
}

func netpolMain(config *options.KubeRouterConfig, readyFile string, cleanup bool) error {
	restConfig, err := clientcmd.BuildConfigFromFlags(config.Master, config.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	stopCh := make(chan struct{})
	factory := informers.NewSharedInformerFactory(client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	nsInformer := factory.Core().V1().Namespaces().Informer()
	npInformer := factory.Networking().V1().NetworkPolicies().Informer()
	iptablesHandlers, ipsetHandlers, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return fmt.Errorf("iptables handlers: %w", err)
	}
	var ipsetMutex sync.Mutex
	npc, err := netpol.NewNetworkPolicyController(client, config, podInformer, npInformer, nsInformer,
		&ipsetMutex, iptablesHandlers, ipsetHandlers)
	if err != nil {
		return fmt.Errorf("network policy controller: %w", err)
	}
	if cleanup {
		// kube-router's own --cleanup-config builds an empty controller, whose Cleanup finds no iptables handler
		// and removes nothing; this one is fully built, so Cleanup really removes the chains and ipsets.
		npc.Cleanup()
		return nil
	}

	factory.Start(stopCh)
	synced := make(chan struct{})
	go func() { factory.WaitForCacheSync(stopCh); close(synced) }()
	select {
	case <-synced:
	case <-time.After(config.CacheSyncTimeout):
		return fmt.Errorf("informer caches did not sync within %s", config.CacheSyncTimeout)
	}
	for _, h := range []struct {
		name string
		add  func() error
	}{
		{"pods", func() error { _, err := podInformer.AddEventHandler(npc.PodEventHandler); return err }},
		{"namespaces", func() error { _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); return err }},
		{"policies", func() error { _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); return err }},
	} {
		if err := h.add(); err != nil {
			return fmt.Errorf("event handler for %s: %w", h.name, err)
		}
	}

	// The controller reports a heartbeat after every full sync; the first one means the rules are in place.
	healthChan := make(chan *healthcheck.ControllerHeartbeat, 10)
	go func() {
		first := true
		for beat := range healthChan {
			if first && readyFile != "" {
				if err := os.WriteFile(readyFile, []byte(beat.LastHeartBeat.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
					klog.Errorf("writing %s: %v", readyFile, err)
				}
				klog.Infof("first full sync done")
			}
			first = false
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go npc.Run(healthChan, stopCh, &wg)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	klog.Info("shutting down")
	close(stopCh)
	wg.Wait()
	close(healthChan)
	return nil
}
