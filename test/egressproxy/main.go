// Command egressproxy is the allowlisting HTTP forward proxy of the sandbox
// test targets (see test/sandbox). A sandbox target has no route out of its
// network namespace; the only way out is this proxy, which listens on the
// host's end of the target's veth pair and forwards:
//
//   - plain HTTP requests (absolute-URI form, as apt sends them), and
//   - CONNECT tunnels (https, as curl and npm use them),
//
// only when the destination host is on the allowlist (-allow) and the port is
// on the port list (-ports). Everything else gets 403 Forbidden without any
// connection being made, and every decision is logged to stderr.
//
// The allowlist is passed in by the harness, which derives it from the host's
// own configuration (its Debian mirror and npm registry); no host name is
// built in here.
//
// Standard library only: it is built from the main module by the harness.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// dialTimeout bounds how long connecting to an allowed upstream may take.
const dialTimeout = 15 * time.Second

// hopHeaders are the hop-by-hop headers (RFC 9110, 7.6.1) that a proxy must
// not forward.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// proxy is the http.Handler that enforces the allowlist.
type proxy struct {
	hosts     map[string]bool // allowed host names or IPs, lower case
	ports     map[string]bool // allowed destination ports
	transport http.RoundTripper
	log       *log.Logger
}

// newProxy returns a proxy that allows the given hosts on the given ports.
func newProxy(hosts, ports []string, logger *log.Logger) *proxy {
	p := &proxy{
		hosts: map[string]bool{},
		ports: map[string]bool{},
		// Proxy: nil: connect to the allowed hosts directly, never through a
		// proxy from this process's environment.
		transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       60 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
		log: logger,
	}
	for _, h := range hosts {
		if h = normHost(h); h != "" {
			p.hosts[h] = true
		}
	}
	for _, port := range ports {
		if port = strings.TrimSpace(port); port != "" {
			p.ports[port] = true
		}
	}
	return p
}

func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// allowed reports whether hostport (host, or host:port with defaultPort used
// when the port is missing) is an allowed destination.
func (p *proxy) allowed(hostport, defaultPort string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defaultPort
	}
	return p.hosts[normHost(host)] && p.ports[port]
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs():
		p.forward(w, r)
	default:
		// An origin-form request ("GET / HTTP/1.1"): someone talks to the
		// proxy as if it were a web server.
		http.Error(w, "egressproxy: forward proxy only", http.StatusBadRequest)
	}
}

// forward relays one plain-HTTP request to an allowed host.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request) {
	if r.URL.Scheme != "http" || !p.allowed(r.URL.Host, "80") {
		p.deny(w, r.Method, r.URL.String())
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = "" // set by the server; must be empty in a client request
	removeHopHeaders(out.Header)
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.log.Printf("ERROR %s %s: %v", r.Method, r.URL, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		p.log.Printf("ERROR %s %s: copy after %d bytes: %v", r.Method, r.URL, n, err)
		return
	}
	p.log.Printf("ALLOW %s %s %d %d bytes", r.Method, r.URL, resp.StatusCode, n)
}

// connect opens a CONNECT tunnel to an allowed host:port.
func (p *proxy) connect(w http.ResponseWriter, r *http.Request) {
	if _, _, err := net.SplitHostPort(r.Host); err != nil || !p.allowed(r.Host, "") {
		p.deny(w, r.Method, r.Host)
		return
	}
	up, err := net.DialTimeout("tcp", r.Host, dialTimeout)
	if err != nil {
		p.log.Printf("ERROR CONNECT %s: %v", r.Host, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer up.Close()
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.log.Printf("ERROR CONNECT %s: hijack: %v", r.Host, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer client.Close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	p.log.Printf("ALLOW CONNECT %s", r.Host)
	// Bytes the client sent right after the CONNECT header (already read into
	// buf) go first; then copy both ways, half-closing each direction when
	// its source is done so that neither side waits forever.
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, io.MultiReader(buf.Reader, client))
		closeWrite(up)
	}()
	io.Copy(client, up)
	closeWrite(client)
	<-done
}

func (p *proxy) deny(w http.ResponseWriter, method, target string) {
	p.log.Printf("DENY %s %s", method, target)
	http.Error(w, "egressproxy: destination not allowed", http.StatusForbidden)
}

func removeHopHeaders(h http.Header) {
	// Headers named in Connection are hop-by-hop too.
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(args []string) error {
	fs := flag.NewFlagSet("egressproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:3128", "address to listen on")
	allow := fs.String("allow", "", "comma-separated allowed destination hosts (required)")
	ports := fs.String("ports", "80,443", "comma-separated allowed destination ports")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hosts := splitList(*allow)
	if len(hosts) == 0 {
		return errors.New("-allow is required")
	}
	logger := log.New(os.Stderr, "egressproxy: ", log.LstdFlags)
	p := newProxy(hosts, splitList(*ports), logger)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger.Printf("listening on %s, allowing hosts %v on ports %v", ln.Addr(), hosts, splitList(*ports))
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	return srv.Serve(ln)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "egressproxy:", err)
		os.Exit(1)
	}
}
