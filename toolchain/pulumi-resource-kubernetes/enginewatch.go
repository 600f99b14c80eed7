// enginewatch: this plugin exits as soon as the Pulumi engine that started it is gone.
//
// The engine starts every plugin with a pipe as standard input (sdk/go/common/resource/plugin: execPlugin), never
// writes to it and never closes it, so the pipe reports end-of-file exactly when the engine process has ended,
// however it ended (SIGKILL, OOM, SIGPIPE from a dead parent). Upstream plugins only health-check the engine every
// five minutes (sdk provider.Main), so after a killed `pulumi up` they run on with no parent; this file makes the
// end immediate. It starts from init, so it needs no change to the plugin's main. A plugin started some other way
// (standard input not a pipe) falls back to watching its parent pid.
//
// The same file lives in toolchain/pulumi-language-nodejs (lifetime.go, which also stops the Node.js program),
// toolchain/pulumi-resource-random and toolchain/pulumi-resource-kubernetes: keep them in step.
package main

import (
	"io"
	"os"
	"time"
)

func init() {
	ppid := os.Getppid()
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			// Nothing is written: standard output and error are pipes to the dead engine.
			os.Exit(1)
		}()
	}
	if ppid > 1 {
		go func() {
			for {
				time.Sleep(200 * time.Millisecond)
				if os.Getppid() != ppid {
					os.Exit(1)
				}
			}
		}()
	}
}
