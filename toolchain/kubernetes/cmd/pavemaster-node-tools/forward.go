package main

// tcp-forward LISTEN TARGET [LABEL]: accepts TCP connections on LISTEN and joins each to a new connection to TARGET.
// scripts/node runs it so that the API server, which listens on 127.0.0.1 only, is reachable from pods at the
// node's address on port 6443, where a real cluster's API server endpoint is (the program's NetworkPolicies allow
// egress to the API server on 443 and 6443; the traffic never leaves the machine). LABEL is ignored: it marks
// the process's command line, so that scripts/node can tell its own forwarder from anything else.

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func runTCPForward() int {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tcp-forward LISTEN_HOST:PORT TARGET_HOST:PORT [LABEL]")
		return 2
	}
	listen, target := os.Args[1], os.Args[2]
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcp-forward:", err)
		return 1
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-signals; ln.Close() }()
	fmt.Fprintf(os.Stderr, "tcp-forward: %s -> %s\n", listen, target)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return 0 // closed by a signal
		}
		go forward(conn, target)
	}
}

func forward(in net.Conn, target string) {
	defer in.Close()
	out, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcp-forward:", err)
		return
	}
	defer out.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		// Half-close so the other side sees the end of the stream (TLS close_notify, HTTP/2 GOAWAY, ...).
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(out, in)
	go pipe(in, out)
	wg.Wait()
}
