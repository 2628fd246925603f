//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// toxiproxy is a Toxiproxy server (Shopify/toxiproxy v2, built into
// .tools/bin by `make toxiproxy`) that the test started on 127.0.0.1 and
// stops, by its PID, when the test ends. Tests drive it through its HTTP API.
type toxiproxy struct {
	t   *testing.T
	api string // "http://127.0.0.1:PORT"
}

// tproxy is one proxy of the server: it listens on Listen and forwards to
// its upstream, through the toxics the test adds.
type tproxy struct {
	tp     *toxiproxy
	Name   string
	Listen string // the address it listens on, port resolved
}

// startToxiproxy starts the server on a free port of 127.0.0.1 and waits
// until its API answers.
func startToxiproxy(t *testing.T) *toxiproxy {
	t.Helper()
	bin := os.Getenv("TOXIPROXY_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), ".tools", "bin", "toxiproxy-server")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Toxiproxy server at %s: run the e2e tests with `make e2e` (or `make toxiproxy`)", bin)
	}
	// A free port: taken and given back; the server takes it right after.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	log := &syncBuffer{}
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
			t.Logf("toxiproxy's log (last lines):\n%s", lastLines(log.String(), 30))
		}
	})
	tp := &toxiproxy{t: t, api: "http://127.0.0.1:" + port}
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
func (tp *toxiproxy) call(method, path string, body, out any, want int) {
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

// proxy creates a proxy listening on listen ("10.203.N.1:0": the port is
// chosen by the system) that forwards to upstream.
func (tp *toxiproxy) proxy(name, listen, upstream string) *tproxy {
	tp.t.Helper()
	var got struct {
		Listen string `json:"listen"`
	}
	tp.call("POST", "/proxies", map[string]any{"name": name, "listen": listen, "upstream": upstream, "enabled": true}, &got, http.StatusCreated)
	tp.t.Logf("toxiproxy: %s listens on %s, upstream %s", name, got.Listen, upstream)
	return &tproxy{tp: tp, Name: name, Listen: got.Listen}
}

// Port is the port the proxy listens on.
func (p *tproxy) Port() string {
	_, port, _ := net.SplitHostPort(p.Listen)
	return port
}

// toxic adds a toxic to the proxy: typ "bandwidth", "latency", "timeout",
// "reset_peer", ...; stream "downstream" (from the upstream to the client)
// or "upstream"; attributes as Toxiproxy documents them for the type. It
// applies to the connections already open as well as to new ones.
func (p *tproxy) toxic(name, typ, stream string, attrs map[string]any) {
	p.tp.t.Helper()
	p.tp.call("POST", "/proxies/"+p.Name+"/toxics", map[string]any{
		"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs,
	}, nil, http.StatusOK)
	p.tp.t.Logf("toxiproxy: %s: added %s (%s %s %v)", p.Name, name, typ, stream, attrs)
}

// removeToxic removes the toxic called name.
func (p *tproxy) removeToxic(name string) {
	p.tp.t.Helper()
	p.tp.call("DELETE", "/proxies/"+p.Name+"/toxics/"+name, nil, nil, http.StatusNoContent)
	p.tp.t.Logf("toxiproxy: %s: removed %s", p.Name, name)
}

// toxics lists the names of the proxy's toxics.
func (p *tproxy) toxics() []string {
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

// clear removes every toxic of the proxy.
func (p *tproxy) clear() {
	p.tp.t.Helper()
	for _, n := range p.toxics() {
		p.removeToxic(n)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestToxiproxyHarness checks the harness itself on loopback, without a
// target: a proxy forwards, a bandwidth toxic slows it, an hour's latency
// is a black hole (the connection is accepted, nothing answers, nothing
// closes), and removing the toxics restores the path.
func TestToxiproxyHarness(t *testing.T) {
	tp := startToxiproxy(t)
	payload := strings.Repeat("x", 64<<10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, payload)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := tp.proxy("harness", "127.0.0.1:0", ln.Addr().String())
	url := "http://" + p.Listen + "/"
	client := &http.Client{Timeout: 3 * time.Second}
	get := func() (int, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	if n, err := get(); err != nil || n != len(payload) {
		t.Fatalf("through the proxy: %d bytes, %v; want %d", n, err, len(payload))
	}
	// 32 KB/s: 64 KiB take about two seconds, so a 1 s client gives up.
	p.toxic("slow", "bandwidth", "downstream", map[string]any{"rate": 32})
	client.Timeout = time.Second
	if _, err := get(); err == nil {
		t.Error("the bandwidth toxic did not slow the transfer")
	}
	p.removeToxic("slow")
	client.Timeout = 3 * time.Second
	// An hour of latency on the answers: the request reaches the server,
	// which answers and closes, but neither the answer nor the close comes
	// back. (A timeout toxic passes the server's close on at once.)
	p.toxic("hole", "latency", "downstream", map[string]any{"latency": 3600000})
	conn, err := net.DialTimeout("tcp", p.Listen, time.Second)
	if err != nil {
		t.Fatalf("the black hole refused the connection: %v", err)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("the black hole answered: %d bytes, %v", n, err)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("the black hole closed the connection instead of holding it: %v", err)
	}
	conn.Close()
	p.clear()
	if got := p.toxics(); len(got) != 0 {
		t.Errorf("toxics left after clear: %v", got)
	}
	if n, err := get(); err != nil || n != len(payload) {
		t.Fatalf("through the proxy after clearing the toxics: %d bytes, %v; want %d", n, err, len(payload))
	}
}
