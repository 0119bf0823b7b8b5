// A Go TLS server for the Go crypto/tls capture tests: the traced process
// serves TLS. It listens on 127.0.0.1 (any free port), prints the port on
// stdout, and exits once it has served -n requests (https) or connections
// (greet).
//
//	server -cert FILE -key FILE -mode https -n N
//	    net/http over TLS (HTTP/1.1, and HTTP/2 by ALPN); POST answers
//	    {"got": <body bytes>, "echo": <body>} as JSON.
//	server -cert FILE -key FILE -mode greet -n N
//	    raw TLS that speaks first: "HELLO FROM GO\r\n", then reads one line.
//	server -cert FILE -key FILE -mode flood
//	    raw TLS: one connection, one Write of 16 MiB; prints on stderr how much
//	    it wrote and how it ended (the client resets the connection during it).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
)

func main() {
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "key (PEM)")
	mode := flag.String("mode", "https", "https, greet or flood")
	n := flag.Int("n", 1, "requests or connections to serve before exiting")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var wg sync.WaitGroup
	wg.Add(*n)
	if *mode == "flood" {
		c, err := tls.NewListener(ln, cfg).Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		wrote, err := c.Write(make([]byte, 16<<20))
		fmt.Fprintf(os.Stderr, "flood: wrote %d, %v\n", wrote, err)
		c.Close()
		return
	}
	if *mode == "greet" {
		tl := tls.NewListener(ln, cfg)
		go func() {
			for {
				c, err := tl.Accept()
				if err != nil {
					return
				}
				go func() {
					defer wg.Done()
					defer c.Close()
					io.WriteString(c, "HELLO FROM GO\r\n")
					bufio.NewReader(c).ReadString('\n')
				}()
			}
		}()
		wg.Wait()
		return
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer wg.Done()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(map[string]interface{}{"got": len(body), "echo": string(body), "proto": r.Proto})
	})}
	go srv.ServeTLS(ln, "", "")
	wg.Wait()
	// the last answer may still be on its way: let every connection go idle first
	srv.Shutdown(context.Background())
}
