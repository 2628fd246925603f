//go:build e2e

package nodemirror_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
)

// TestMirror builds a mirror for one release from the npm registry (or
// takes it from the cache), serves it on loopback, and installs Node.js
// from it as the provisioner does: index.json, SHASUMS256.txt, the archive
// checked against it, tar -xJf, bin/node and bin/npm.
//
//	go test -tags e2e -count=1 -v ./test/nodemirror/
func TestMirror(t *testing.T) {
	const version = nodemirror.Node22
	start := time.Now()
	dir := nodemirror.Build(t, version)
	t.Logf("Build(%s): %s", version, time.Since(start))
	start = time.Now()
	if again := nodemirror.Build(t, version); again != dir {
		t.Errorf("Build again: %s, want %s", again, dir)
	}
	t.Logf("Build(%s) again, cached: %s", version, time.Since(start))

	m := nodemirror.Serve(t, dir, "127.0.0.1:0")
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: nil}}
	get := func(p string) []byte {
		t.Helper()
		resp, err := client.Get(m.URL + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s, %v", p, resp.Status, err)
		}
		return b
	}

	var index []map[string]any
	if err := json.Unmarshal(get("index.json"), &index); err != nil {
		t.Fatal(err)
	}
	if len(index) != 1 {
		t.Fatalf("index.json has %d releases, want 1: %v", len(index), index)
	}
	r := index[0]
	t.Logf("index.json: %v", r)
	if r["version"] != "v"+version || r["lts"] != "Jod" || !strings.HasPrefix(r["npm"].(string), "10.") {
		t.Errorf("index.json entry %v: want version v%s, lts Jod, npm 10.x", r, version)
	}
	if files, _ := r["files"].([]any); len(files) == 0 || files[0] != "linux-x64" {
		t.Errorf("index.json files = %v", r["files"])
	}
	for _, k := range []string{"date", "v8", "uv", "zlib", "openssl", "modules"} {
		if s, _ := r[k].(string); s == "" {
			t.Errorf("index.json lacks %s: %v", k, r)
		}
	}
	if _, ok := r["security"].(bool); !ok {
		t.Errorf("index.json security = %v, want a bool", r["security"])
	}

	sums, err := nodemirror.ParseShasums(bytes.NewReader(get(nodemirror.ShasumsPath(version))))
	if err != nil {
		t.Fatal(err)
	}
	want := sums[nodemirror.ArchiveName(version)]
	start = time.Now()
	archive := get(nodemirror.ArchivePath(version))
	sum := sha256.Sum256(archive)
	t.Logf("GET %s: %.1f MB in %s", nodemirror.ArchivePath(version), float64(len(archive))/1e6, time.Since(start).Round(time.Millisecond))
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("archive SHA-256 %s, SHASUMS256.txt says %q", got, want)
	}

	tmp := t.TempDir()
	tarball := filepath.Join(tmp, nodemirror.ArchiveName(version))
	if err := os.WriteFile(tarball, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xJf", tarball, "-C", tmp).CombinedOutput(); err != nil {
		t.Fatalf("tar -xJf: %v\n%s", err, out)
	}
	bin := filepath.Join(tmp, "node-v"+version+"-linux-x64", "bin")
	run := func(name string, args ...string) string {
		t.Helper()
		c := exec.Command(filepath.Join(bin, name), args...)
		// As an installed Node: its bin first in PATH (npm's #!/usr/bin/env node).
		c.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "npm_config_update_notifier=false")
		c.Dir = tmp
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("node", "--version"); got != "v"+version {
		t.Errorf("bin/node --version = %q, want v%s", got, version)
	}
	if got := run("npm", "--version"); got != r["npm"] {
		t.Errorf("bin/npm --version = %q, want %v", got, r["npm"])
	}
	if got := run("npx", "--version"); got != r["npm"] {
		t.Errorf("bin/npx --version = %q, want %v", got, r["npm"])
	}
	// npm runs on this node, from this prefix.
	if got := run("npm", "prefix", "-g"); got != filepath.Dir(bin) {
		t.Errorf("npm prefix -g = %q, want %s", got, filepath.Dir(bin))
	}

	for p, n := range map[string]int{"index.json": 1, nodemirror.ShasumsPath(version): 1, nodemirror.ArchivePath(version): 1} {
		if got := m.Requests(p); got != n {
			t.Errorf("Requests(%s) = %d, want %d", p, got, n)
		}
	}

	// The corrupted variant: a wrong, well-formed hash for the same archive.
	bad := nodemirror.Serve(t, dir, "127.0.0.1:0", nodemirror.CorruptChecksum(version))
	resp, err := client.Get(bad.URL + "/" + nodemirror.ShasumsPath(version))
	if err != nil {
		t.Fatal(err)
	}
	badSums, err := nodemirror.ParseShasums(resp.Body)
	resp.Body.Close()
	if got := badSums[nodemirror.ArchiveName(version)]; err != nil || len(got) != 64 || got == want {
		t.Errorf("CorruptChecksum: SHASUMS256.txt %v, %v; want a wrong hash", badSums, err)
	}
}
