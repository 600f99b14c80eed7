// Command testbox is the small test image of the local cluster (docker.io/pavemaster/testbox): one static binary
// that is a server and a client, so that a test can start a pod that answers HTTP and a pod that tries to reach
// it (NetworkPolicy enforcement, Service routing, DNS) without a shell or curl in the image.
//
//	testbox serve               HTTP on $PORT (default 8080): /healthz, /readyz, and / (JSON: pod, message)
//	testbox get URL [SECONDS]   GET URL; prints the status; exit 0 on 2xx/3xx, 1 otherwise (timeout default 5 s)
//	testbox tcp HOST:PORT [SECONDS]  exit 0 if a TCP connection opens, 1 otherwise
//	testbox sleep [SECONDS]     sleep (default: until SIGTERM)
//	testbox version
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "get":
		if len(os.Args) < 3 {
			usage()
		}
		os.Exit(get(os.Args[2], seconds(3, 5)))
	case "tcp":
		if len(os.Args) < 3 {
			usage()
		}
		os.Exit(dial(os.Args[2], seconds(3, 5)))
	case "sleep":
		sleep(seconds(2, 0))
	case "version", "-v", "--version":
		fmt.Printf("testbox %s (PaveMaster)\n", version)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testbox serve | get URL [SECONDS] | tcp HOST:PORT [SECONDS] | sleep [SECONDS] | version")
	os.Exit(2)
}

func seconds(i int, def float64) time.Duration {
	if len(os.Args) > i {
		v, err := strconv.ParseFloat(os.Args[i], 64)
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "testbox: %q is not a number of seconds\n", os.Args[i])
			os.Exit(2)
		}
		def = v
	}
	return time.Duration(def * float64(time.Second))
}

func serve() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Testbox-Pod", host)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"pod": host, "path": r.URL.Path, "message": os.Getenv("TESTBOX_MESSAGE"), "version": version,
		})
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	fmt.Printf("{\"msg\":\"listening\",\"port\":%q,\"pod\":%q}\n", port, host)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testbox:", err)
		os.Exit(1)
	}
}

func get(url string, timeout time.Duration) int {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Printf("%s -> error: %v\n", url, err)
		return 1
	}
	_ = resp.Body.Close()
	fmt.Printf("%s -> %d\n", url, resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return 0
	}
	return 1
}

func dial(addr string, timeout time.Duration) int {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		fmt.Printf("%s -> error: %v\n", addr, err)
		return 1
	}
	_ = conn.Close()
	fmt.Printf("%s -> connected\n", addr)
	return 0
}

func sleep(d time.Duration) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if d == 0 {
		<-stop
		return
	}
	select {
	case <-stop:
	case <-time.After(d):
	}
}
