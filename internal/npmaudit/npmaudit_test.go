package npmaudit

import (
	"bufio"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/runner"
)

func TestValid(t *testing.T) {
	for _, m := range Modes {
		if err := Valid(m); err != nil {
			t.Errorf("Valid(%q) = %v", m, err)
		}
	}
	if err := Valid("yes"); err == nil || err.Error() != `"yes" is not one of auto, require, off` {
		t.Errorf("Valid(yes) = %v", err)
	}
	if Script(Off) != "" || StepSuffix(Off) != "" {
		t.Error("off still renders a script or renames the step")
	}
	for _, m := range []string{Auto, Require} {
		golden.Syntax(t, m, golden.Prelude+Script(m))
	}
}

// probe runs scripts/keys.js with this machine's node, as the build does
// on the target (the script on stdin), with env added.
func probe(t *testing.T, env ...string) (string, int) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("needs node on this machine: the probe is a Node.js script")
	}
	js, _ := scripts.ReadFile("scripts/keys.js")
	cmd := exec.Command(node, "-")
	cmd.Stdin = strings.NewReader(string(js))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if e, ok := err.(*exec.ExitError); ok {
		code = e.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestKeysProbe runs the probe against a registry on loopback that serves
// keys, has none, or fails, and checks what it prints, its exit code, the
// retries and the token it sends.
func TestKeysProbe(t *testing.T) {
	var status atomic.Int32
	var requests atomic.Int32
	var auth atomic.Value
	auth.Store("")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		if r.URL.Path != "/sub/path/-/npm/v1/keys" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
		if status.Load() == 200 {
			io.WriteString(w, `{"keys":[{"expires":null,"keyid":"SHA256:test","keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","key":"AAAA"}]}`)
		}
	}))
	defer reg.Close()
	npmrc := filepath.Join(t.TempDir(), "npmrc")
	host := strings.TrimPrefix(reg.URL, "http://")
	os.WriteFile(npmrc, []byte("registry="+reg.URL+"/sub/path/\n//"+host+"/other/:_authToken=wrong\n//"+host+"/sub/:_authToken=${TEST_TOKEN}\n"), 0o600)
	regURL := "AUDIT_REGISTRY=" + reg.URL + "/sub/path"

	status.Store(200)
	out, code := probe(t, regURL, "npm_config_userconfig="+npmrc, "TEST_TOKEN=npm_SECRET")
	if code != 0 || strings.TrimSpace(out) != "1 key: SHA256:test" {
		t.Errorf("keys served: exit %d, %q", code, out)
	}
	if got := auth.Load().(string); got != "Bearer npm_SECRET" {
		t.Errorf("the probe sent Authorization %q; want the npmrc's token for the registry's path", got)
	}
	if strings.Contains(out, "npm_SECRET") {
		t.Error("the probe printed the token")
	}

	status.Store(404)
	out, code = probe(t, regURL)
	if code != 3 || !strings.Contains(out, "/sub/path/-/npm/v1/keys answered 404") {
		t.Errorf("no keys: exit %d, %q", code, out)
	}

	status.Store(503)
	requests.Store(0)
	out, code = probe(t, regURL)
	if code != 1 || requests.Load() != 3 || !strings.Contains(out, "answered 503 (3 attempts at most, 20s each)") {
		t.Errorf("a failing registry: exit %d after %d requests, %q; want 1 after 3", code, requests.Load(), out)
	}

	// Nothing listens: each attempt fails at once and the probe says so.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	out, code = probe(t, "AUDIT_REGISTRY=http://user:pw@"+dead+"/")
	if code != 1 || !strings.Contains(out, "ECONNREFUSED") || strings.Contains(out, "pw") {
		t.Errorf("an unreachable registry: exit %d, %q; want 1, the reason, and no credentials", code, out)
	}
}

// TestKeysProbeThroughProxy: an https registry reached through a CONNECT
// proxy, trusted through NODE_EXTRA_CA_CERTS, as on a machine whose only
// way out is the build's proxy.
func TestKeysProbeThroughProxy(t *testing.T) {
	reg := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"keys":[{"keyid":"SHA256:a"},{"keyid":"SHA256:b"}]}`)
	}))
	defer reg.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: reg.Certificate().Raw}), 0o644)
	// relayed counts the bytes the client sent through the tunnels: a
	// client that opens the tunnel but connects directly sends none.
	var tunnels atomic.Int32
	var relayed atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get("Proxy-Authorization") == "" {
			http.Error(w, "CONNECT with credentials only", http.StatusForbidden)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		tunnels.Add(1)
		c, buf, _ := http.NewResponseController(w).Hijack()
		fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			n, _ := io.Copy(up, bufio.NewReader(buf))
			relayed.Add(n)
		}()
		io.Copy(c, up)
		c.Close()
		up.Close()
	}))
	defer proxy.Close()
	// The test server's certificate names 127.0.0.1 and example.com only.
	out, code := probe(t, "AUDIT_REGISTRY="+reg.URL+"/", "https_proxy="+strings.Replace(proxy.URL, "http://", "http://u:p@", 1),
		"NODE_EXTRA_CA_CERTS="+ca)
	if code != 0 || strings.TrimSpace(out) != "2 keys: SHA256:a, SHA256:b" || tunnels.Load() != 1 || relayed.Load() < 100 {
		t.Errorf("through the proxy: exit %d, %q, %d tunnels carrying %d bytes from the client", code, out, tunnels.Load(), relayed.Load())
	}
	// no_proxy sends it direct.
	out, code = probe(t, "AUDIT_REGISTRY="+reg.URL+"/", "https_proxy=http://127.0.0.1:1", "no_proxy=localhost,127.0.0.1",
		"NODE_EXTRA_CA_CERTS="+ca)
	if code != 0 || tunnels.Load() != 1 {
		t.Errorf("no_proxy: exit %d, %q, %d tunnels", code, out, tunnels.Load())
	}
}

// TestScriptWithoutKeys runs the whole script as root with this machine's
// npm against a registry without keys: auto says so in one line and
// succeeds without running npm audit, require fails naming the registry.
func TestScriptWithoutKeys(t *testing.T) {
	node, err1 := exec.LookPath("node")
	_, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		t.Skip("needs node and npm on this machine, and root (as_user runs runuser)")
	}
	var paths []string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		http.NotFound(w, r)
	}))
	defer reg.Close()
	dir := t.TempDir()
	prelude := runner.Prelude{User: "root", Home: dir, Node: node}.Render()
	shown := reg.URL + "/"
	registry := shown
	run := func(mode string) (string, error) {
		cmd := exec.Command("/bin/sh", "-c", prelude+"cd "+dir+"\n"+Script(mode))
		cmd.Env = append(os.Environ(), "npm_config_registry="+registry, "npm_config_cache="+filepath.Join(dir, "cache"), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(Auto)
	if err != nil || !strings.Contains(out, "registry signatures: not checked: the registry "+shown+" publishes no signing keys (GET "+shown+"-/npm/v1/keys answered 404)") {
		t.Errorf("auto without keys: %v\n%s", err, out)
	}
	if strings.Contains(out, "npm audit signatures:") {
		t.Errorf("auto without keys ran npm audit:\n%s", out)
	}
	out, err = run(Require)
	if err == nil || !strings.Contains(out, "registry signatures: the registry "+shown+" publishes no signing keys") || !strings.Contains(out, `npm_audit_signatures = "require" needs one that signs`) {
		t.Errorf("require without keys: %v\n%s", err, out)
	}
	if len(paths) != 2 || paths[0] != "/-/npm/v1/keys" {
		t.Errorf("the registry saw %v; want the keys endpoint asked once per run", paths)
	}
}
