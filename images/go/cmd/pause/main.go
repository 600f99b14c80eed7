// Command pause is the sandbox ("infra") container of every pod: it holds the pod's namespaces open and does
// nothing else until it is told to stop. It does what Kubernetes' own pause does (build/pause/linux/pause.c):
// exits 0 on SIGINT or SIGTERM, and, as PID 1 of a pod that shares its process namespace, reaps the zombies
// re-parented to it on SIGCHLD. A static Go binary: no libc, nothing else in the image.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-X main.version=...).
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version":
			fmt.Printf("pause %s (PaveMaster)\n", version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: pause [-v]\n")
			os.Exit(2)
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		switch s {
		case syscall.SIGCHLD:
			reap()
		default:
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %s\n", s)
			os.Exit(0)
		}
	}
}

// reap collects every child that has exited, without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
