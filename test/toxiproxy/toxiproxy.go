// Package toxiproxy runs a Toxiproxy server (Shopify/toxiproxy v2, built
// into .tools/bin by `make toxiproxy`) for a test and drives it through its
// HTTP API: the e2e fault tier puts faults between Packer and a target's
// SSH with it, and the benchmarks a link with latency and a bandwidth cap.
//
//	tp := toxiproxy.Start(t) // stopped, by its PID, when t ends
//	p := tp.Proxy("ssh", "127.0.0.1:0", target+":22")
//	p.Toxic("lat", "latency", "downstream", map[string]any{"latency": 40})
package toxiproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/logbuf"
)

// Server is a Toxiproxy server the test started on 127.0.0.1.
type Server struct {
	t   testing.TB
	api string // "http://127.0.0.1:PORT"
}

// Proxy is one proxy of the server: it listens on Listen and forwards to
// its upstream, through the toxics the test adds.
type Proxy struct {
	tp     *Server
	Name   string
	Listen string // the address it listens on, port resolved
}

// Bin is the server binary: $TOXIPROXY_BIN, else the repository's
// .tools/bin/toxiproxy-server.
func Bin() string {
	if bin := os.Getenv("TOXIPROXY_BIN"); bin != "" {
		return bin
	}
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..", ".tools", "bin", "toxiproxy-server")
}

// Start starts the server on a free port of 127.0.0.1, waits until its
// API answers, and stops it (by its PID) when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Bin()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Toxiproxy server at %s: run `make toxiproxy`", bin)
	}
	// A free port: taken and given back; the server takes it right after.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	log := &logbuf.Buffer{}
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", port)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Only the process this test started, by its PID.
		select {
		case <-exited:
		default:
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
			<-exited
		}
		if t.Failed() {
			t.Logf("toxiproxy's log (last lines):\n%s", logbuf.LastLines(log.String(), 30))
		}
	})
	tp := &Server{t: t, api: "http://127.0.0.1:" + port}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(tp.api + "/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return tp
			}
		}
		select {
		case <-exited:
			t.Fatalf("toxiproxy exited at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("toxiproxy's API did not answer on %s within 10s: %v\n%s", tp.api, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends a JSON request to the API and decodes the answer into out (if
// not nil); an unexpected status fails the test.
func (tp *Server) call(method, path string, body, out any, want int) {
	tp.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tp.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tp.api+path, r)
	if err != nil {
		tp.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tp.t.Fatalf("toxiproxy %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tp.t.Fatalf("toxiproxy %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tp.t.Fatalf("toxiproxy %s %s: %v: %s", method, path, err, b)
		}
	}
}

// Proxy creates a proxy listening on listen ("10.203.N.1:0": the port is
// chosen by the system) that forwards to upstream.
func (tp *Server) Proxy(name, listen, upstream string) *Proxy {
	tp.t.Helper()
	var got struct {
		Listen string `json:"listen"`
	}
	tp.call("POST", "/proxies", map[string]any{"name": name, "listen": listen, "upstream": upstream, "enabled": true}, &got, http.StatusCreated)
	tp.t.Logf("toxiproxy: %s listens on %s, upstream %s", name, got.Listen, upstream)
	return &Proxy{tp: tp, Name: name, Listen: got.Listen}
}

// Port is the port the proxy listens on.
func (p *Proxy) Port() string {
	_, port, _ := net.SplitHostPort(p.Listen)
	return port
}

// Toxic adds a toxic to the proxy: typ "bandwidth", "latency", "timeout",
// "reset_peer", ...; stream "downstream" (from the upstream to the client)
// or "upstream"; attributes as Toxiproxy documents them for the type. It
// applies to the connections already open as well as to new ones.
func (p *Proxy) Toxic(name, typ, stream string, attrs map[string]any) {
	p.tp.t.Helper()
	p.tp.call("POST", "/proxies/"+p.Name+"/toxics", map[string]any{
		"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs,
	}, nil, http.StatusOK)
	p.tp.t.Logf("toxiproxy: %s: added %s (%s %s %v)", p.Name, name, typ, stream, attrs)
}

// RemoveToxic removes the toxic called name.
func (p *Proxy) RemoveToxic(name string) {
	p.tp.t.Helper()
	p.tp.call("DELETE", "/proxies/"+p.Name+"/toxics/"+name, nil, nil, http.StatusNoContent)
	p.tp.t.Logf("toxiproxy: %s: removed %s", p.Name, name)
}

// Toxics lists the names of the proxy's toxics.
func (p *Proxy) Toxics() []string {
	p.tp.t.Helper()
	var got []struct {
		Name string `json:"name"`
	}
	p.tp.call("GET", "/proxies/"+p.Name+"/toxics", nil, &got, http.StatusOK)
	var names []string
	for _, x := range got {
		names = append(names, x.Name)
	}
	return names
}

// Clear removes every toxic of the proxy.
func (p *Proxy) Clear() {
	p.tp.t.Helper()
	for _, n := range p.Toxics() {
		p.RemoveToxic(n)
	}
}

// Link makes the proxy a network link with round-trip time rtt (half of it
// on each direction) and, when kbps > 0, that bandwidth cap in KB/s each
// way, replacing the toxics it had.
func (p *Proxy) Link(rtt time.Duration, kbps int) {
	p.tp.t.Helper()
	p.Clear()
	if rtt > 0 {
		half := int(rtt / time.Millisecond / 2)
		p.Toxic("latency-up", "latency", "upstream", map[string]any{"latency": half})
		p.Toxic("latency-down", "latency", "downstream", map[string]any{"latency": half})
	}
	if kbps > 0 {
		p.Toxic("bandwidth-up", "bandwidth", "upstream", map[string]any{"rate": kbps})
		p.Toxic("bandwidth-down", "bandwidth", "downstream", map[string]any{"rate": kbps})
	}
}
