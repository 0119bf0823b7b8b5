// A Go HTTPS client for the Go crypto/tls capture tests. It trusts the CA
// named by SSL_CERT_FILE (crypto/x509 reads it on Linux).
//
//	client -proto h1|h2 -base URL -calls calls.json
//	    POSTs each call of the JSON array [{"path", "headers": {...}, "body"}]
//	    in turn over one net/http client (HTTP/1.1 only, or HTTP/2 by ALPN)
//	    and prints "STATUS PROTO BYTES" per call.
//	client -stackbuf HOST:PORT
//	    reads the greeting of a server that speaks first into a buffer on a new
//	    goroutine's stack, with the handshake inside that Read (see stackbuf),
//	    answers BYE and prints the greeting and whether the buffer moved.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"unsafe"
)

type call struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "client: "+format+"\n", args...)
	os.Exit(1)
}

func calls(proto, base, file string) {
	var cs []call
	data, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	if err := json.Unmarshal(data, &cs); err != nil {
		die("reading the calls: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	switch proto {
	case "h1":
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.TLSClientConfig = &tls.Config{NextProtos: []string{"http/1.1"}}
	case "h2":
		tr.ForceAttemptHTTP2 = true
	default:
		die("-proto must be h1 or h2")
	}
	client := &http.Client{Transport: tr}
	for _, c := range cs {
		req, err := http.NewRequest("POST", base+c.Path, bytes.NewReader(c.Body))
		if err != nil {
			die("%v", err)
		}
		req.Header.Set("content-type", "application/json")
		for k, v := range c.Headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			die("%s: %v", c.Path, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			die("%s: reading the answer: %v", c.Path, err)
		}
		fmt.Printf("%d %s %d\n", resp.StatusCode, resp.Proto, n)
		if resp.StatusCode != 200 {
			os.Exit(1)
		}
	}
}

// stackbuf reads the greeting of a server that speaks first into a buffer on
// a new goroutine's stack: the handshake runs inside that first Read and grows
// the stack, which the runtime moves, buffer included, before the data is
// read into it. It reports the greeting and whether the buffer moved.
//
//go:noinline
func stackbuf(addr string, done chan<- string) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		done <- "dial: " + err.Error()
		return
	}
	host, _, _ := net.SplitHostPort(addr)
	conn := tls.Client(raw, &tls.Config{ServerName: host})
	defer conn.Close()
	var buf [512]byte
	before := uintptr(unsafe.Pointer(&buf[0]))
	n, err := conn.Read(buf[:])
	if err != nil {
		done <- "read: " + err.Error()
		return
	}
	after := uintptr(unsafe.Pointer(&buf[0]))
	greeting := string(buf[:n])
	if _, err := conn.Write([]byte("BYE\r\n")); err != nil {
		done <- "write: " + err.Error()
		return
	}
	done <- fmt.Sprintf("%q moved=%v", greeting, before != after)
}

func main() {
	proto := flag.String("proto", "h2", "h1 or h2")
	base := flag.String("base", "", "base URL of the calls")
	file := flag.String("calls", "", "JSON file of the calls")
	sb := flag.String("stackbuf", "", "HOST:PORT of a server that speaks first")
	flag.Parse()
	if *sb != "" {
		done := make(chan string)
		go stackbuf(*sb, done)
		line := <-done
		fmt.Println(line)
		if !strings.HasPrefix(line, "\"") {
			os.Exit(1)
		}
		return
	}
	calls(*proto, *base, *file)
}
