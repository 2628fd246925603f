package main

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/logbuf"
)

// All traffic in these tests stays on loopback: the upstreams are httptest
// servers on 127.0.0.1 and denied destinations are refused before any dial
// (".invalid" names never resolve anyway).

// startProxy serves a proxy allowing 127.0.0.1 on the given ports.
func startProxy(t *testing.T, ports ...string) *url.URL {
	t.Helper()
	logs := &logbuf.Buffer{}
	p := newProxy([]string{"127.0.0.1"}, ports, log.New(logs, "", 0))
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		t.Logf("proxy log:\n%s", logs.String())
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func portOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

func get(t *testing.T, c *http.Client, rawURL string) (int, string) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPlainHTTP(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(hello))
	defer up.Close()
	proxyURL := startProxy(t, portOf(t, up.URL))
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}

	if code, body := get(t, c, up.URL+"/x"); code != http.StatusOK || body != "hello" {
		t.Errorf("allowed host: got %d %q, want 200 \"hello\"", code, body)
	}
	if code, _ := get(t, c, "http://not-allowed.invalid/"); code != http.StatusForbidden {
		t.Errorf("other host: got %d, want 403", code)
	}
	// Allowed host, port not on the list.
	other := httptest.NewServer(http.HandlerFunc(hello))
	defer other.Close()
	if code, _ := get(t, c, other.URL); code != http.StatusForbidden {
		t.Errorf("allowed host, other port: got %d, want 403", code)
	}
}

func TestConnect(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(hello))
	defer up.Close()
	proxyURL := startProxy(t, portOf(t, up.URL))
	tr := up.Client().Transport.(*http.Transport).Clone() // trusts up's certificate
	tr.Proxy = http.ProxyURL(proxyURL)
	c := &http.Client{Timeout: 10 * time.Second, Transport: tr}

	if code, body := get(t, c, up.URL+"/x"); code != http.StatusOK || body != "hello" {
		t.Errorf("allowed host: got %d %q, want 200 \"hello\"", code, body)
	}
	if code := rawConnect(t, proxyURL.Host, "not-allowed.invalid:443"); code != http.StatusForbidden {
		t.Errorf("CONNECT to other host: got %d, want 403", code)
	}
	if _, err := c.Get("https://not-allowed.invalid/"); err == nil {
		t.Errorf("https via proxy to other host succeeded")
	}
}

// rawConnect sends a CONNECT request and returns the proxy's status code.
func rawConnect(t *testing.T, proxyAddr, target string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestNotAProxyRequest(t *testing.T) {
	proxyURL := startProxy(t, "80")
	resp, err := http.Get("http://" + proxyURL.Host + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("origin-form request: got %d, want 400", resp.StatusCode)
	}
}
