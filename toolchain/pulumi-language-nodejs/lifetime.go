// Lifetime: the language host, and every process it starts (the Node.js
// program, policy packs, npm), ends with the engine that started it.
//
// Why: the engine (pulumi up/preview) starts the language host and talks to it
// over gRPC. When the engine is killed hard (SIGKILL, OOM, a parent that dies
// and takes it with SIGPIPE) it can clean up nothing, so a language host that
// only serves gRPC would run forever with no parent, and so would the Node.js
// program it runs. The Pulumi SDK's own plugins health-check the engine every
// five minutes; we can do much better because the engine gives every plugin it
// starts a pipe as standard input (sdk/go/common/resource/plugin: execPlugin)
// and never writes to it or closes it: the pipe reports end-of-file exactly
// when the engine process is gone. Polling the parent pid covers a language
// host started some other way (stdin not a pipe).
//
// The children die with us through PR_SET_PDEATHSIG (SIGKILL when the thread
// that started them ends; the starting goroutine holds its OS thread until the
// child exits, the documented way to use Pdeathsig from Go), so even a language
// host killed with SIGKILL takes its Node.js program with it.
package main

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// parentPollInterval is how often the parent pid is checked (a few syscalls a second).
const parentPollInterval = 200 * time.Millisecond

var (
	childrenMu sync.Mutex
	children   = map[*exec.Cmd]struct{}{}
	goneOnce   sync.Once
)

// watchEngine calls gone once when the engine that started this process is gone: its standard input (a pipe
// from the engine) reached end-of-file, or the parent process changed.
func watchEngine(gone func(reason string)) {
	ppid := os.Getppid()
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			gone("standard input closed")
		}()
	}
	if ppid > 1 {
		go func() {
			for {
				time.Sleep(parentPollInterval)
				if os.Getppid() != ppid {
					gone("parent process exited")
					return
				}
			}
		}()
	}
}

// engineGone stops every child and exits. It writes nothing: standard output and error are pipes to the dead
// engine, and a write to them would only raise SIGPIPE.
func engineGone(reason string) {
	goneOnce.Do(func() {
		_ = reason
		childrenMu.Lock()
		for c := range children {
			if c.Process != nil {
				_ = c.Process.Kill()
			}
		}
		childrenMu.Unlock()
		// The engine starts each plugin in a process group of its own (Setpgid): when we lead one, everything in
		// it (the program's own children, and this process) goes at once.
		if syscall.Getpgrp() == os.Getpid() {
			_ = syscall.Kill(-os.Getpid(), syscall.SIGKILL)
		}
		os.Exit(1)
	})
}

// startChild starts cmd so that it is killed when this process ends, however it ends, and tracks it until it
// exits. The returned wait must be called once (it is cmd.Wait).
func startChild(cmd *exec.Cmd) (wait func() error, err error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, not the process: keep this goroutine on its
		// thread until the child has exited, so the Go runtime cannot retire that thread under the child.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		childrenMu.Lock()
		err := cmd.Start()
		if err == nil {
			children[cmd] = struct{}{}
		}
		childrenMu.Unlock()
		started <- err
		if err != nil {
			return
		}
		werr := cmd.Wait()
		childrenMu.Lock()
		delete(children, cmd)
		childrenMu.Unlock()
		done <- werr
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return func() error { return <-done }, nil
}

// runChild is startChild and wait.
func runChild(cmd *exec.Cmd) error {
	wait, err := startChild(cmd)
	if err != nil {
		return err
	}
	return wait()
}
