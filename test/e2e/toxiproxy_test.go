//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/toxiproxy"
)

// TestToxiproxyHarness checks the harness itself on loopback, without a
// target: a proxy forwards, a bandwidth toxic slows it, an hour's latency
// is a black hole (the connection is accepted, nothing answers, nothing
// closes), and removing the toxics restores the path.
func TestToxiproxyHarness(t *testing.T) {
	tp := toxiproxy.Start(t)
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
	p := tp.Proxy("harness", "127.0.0.1:0", ln.Addr().String())
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
	p.Toxic("slow", "bandwidth", "downstream", map[string]any{"rate": 32})
	client.Timeout = time.Second
	if _, err := get(); err == nil {
		t.Error("the bandwidth toxic did not slow the transfer")
	}
	p.RemoveToxic("slow")
	client.Timeout = 3 * time.Second
	// An hour of latency on the answers: the request reaches the server,
	// which answers and closes, but neither the answer nor the close comes
	// back. (A timeout toxic passes the server's close on at once.)
	p.Toxic("hole", "latency", "downstream", map[string]any{"latency": 3600000})
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
	p.Clear()
	if got := p.Toxics(); len(got) != 0 {
		t.Errorf("toxics left after clear: %v", got)
	}
	if n, err := get(); err != nil || n != len(payload) {
		t.Fatalf("through the proxy after clearing the toxics: %d bytes, %v; want %d", n, err, len(payload))
	}
}
