package nodejs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

// testVersion is a release no host has unpacked in /usr/local/lib/nodejs,
// so the script never takes its "already installed" branch here.
const testVersion = "99.1.2"

// sigMirror serves a release in the dist layout from memory, counting
// requests; a path that is not in files answers 404.
type sigMirror struct {
	mu    sync.Mutex
	files map[string][]byte // "/dist/v99.1.2/SHASUMS256.txt.asc"
	hits  map[string]int
	url   string
}

func (m *sigMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.hits[r.URL.Path]++
	b, ok := m.files[r.URL.Path]
	m.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func (m *sigMirror) requests(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits["/dist/v"+testVersion+"/"+name]
}

// release is a fake archive and the SHASUMS256.txt that lists it, among
// other files as nodejs.org's does.
func release() (archive []byte, sums string) {
	archive = []byte("not really node, but bytes with a known SHA-256\n")
	h := sha256.Sum256(archive)
	file := fmt.Sprintf("node-v%s-linux-x64.tar.xz", testVersion)
	other := strings.Repeat("0123456789abcdef", 4)
	sums = other + "  node-v" + testVersion + "-darwin-arm64.tar.xz\n" +
		hex.EncodeToString(h[:]) + "  " + file + "\n" +
		other + "  node-v" + testVersion + "-linux-x64.tar.gz\n"
	return archive, sums
}

// runTarballStep runs the real tarball step with verification, as the
// target does, against files served on 127.0.0.1 with real curl and gpgv,
// trusting keys. It stops before unpacking (which would write to
// /usr/local): "REACHED UNPACK" marks that the archive was verified.
func runTarballStep(t *testing.T, files map[string][]byte, keys ...*gpgtest.Key) (string, error, *sigMirror) {
	t.Helper()
	for _, c := range []string{"gpgv", "curl", "sha256sum"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed: cannot run the tarball step here", c)
		}
	}
	m := &sigMirror{files: map[string][]byte{}, hits: map[string]int{}}
	for name, b := range files {
		m.files["/dist/v"+testVersion+"/"+name] = b
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	m.url = srv.URL

	var trusted []releasekeys.Key
	for _, k := range keys {
		b, err := os.ReadFile(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := releasekeys.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, ks...)
	}
	s := InstallTarball(Tarball{Mirror: srv.URL + "/dist", Version: testVersion, Platform: "linux-x64", Keys: trusted})
	if len(s.Files) != 1 || s.Files[0].Path != KeyringPath {
		t.Fatalf("the step installs %v; want the keyring at %s", s.Files, KeyringPath)
	}
	dir := t.TempDir()
	keyring := filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(keyring, s.Files[0].Content, 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(s.Script, KeyringPath, shell.Quote(keyring))
	cut := strings.Index(script, "  rm -rf /usr/local/lib/nodejs/")
	if cut < 0 {
		t.Fatal("the script has no unpacking to stop at")
	}
	script = script[:cut] + "  echo REACHED UNPACK\n  exit 0\nfi\n"
	prelude := runner.Prelude{User: "node", Home: "/home/node", Node: Bin}.Render()
	cmd := exec.Command("/bin/sh", "-c", prelude+script)
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"} // no proxy of the host's
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the step did not finish in 2 minutes")
	}
	return string(out), err, m
}

func signed(t *testing.T, k *gpgtest.Key, text string) []byte {
	t.Helper()
	b, err := k.Clearsign([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTarballSignature runs the tarball step's verification for real
// (curl, gpgv) against a local mirror: what passes, what fails, and that
// what fails names the file and the key, and downloads no archive.
func TestTarballSignature(t *testing.T) {
	key := gpgtest.NewT(t, "Test Releaser <releaser@example.test>")
	stranger := gpgtest.NewT(t, "Stranger <stranger@example.test>")
	retired := gpgtest.NewExpiredT(t, "Retired Releaser <retired@example.test>")
	archive, sums := release()
	file := fmt.Sprintf("node-v%s-linux-x64.tar.xz", testVersion)
	good := signed(t, key, sums)
	wrongSums := strings.Replace(sums, hex.EncodeToString(sha(archive)), strings.Repeat("e", 64), 1)
	detached, err := key.DetachSign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		files    map[string][]byte
		ok       bool
		want     []string
		download bool // the archive is downloaded
	}{
		{"good clearsigned signature", map[string][]byte{
			"SHASUMS256.txt.asc": good, "SHASUMS256.txt": []byte(sums), file: archive,
		}, true, []string{
			"SHASUMS256.txt.asc: good signature by " + key.Fingerprint + " (Test Releaser <releaser@example.test>)",
			"verified against SHASUMS256.txt signed by " + key.Fingerprint, "REACHED UNPACK",
		}, true},
		{"the unsigned SHASUMS256.txt is not used", map[string][]byte{
			"SHASUMS256.txt.asc": good, "SHASUMS256.txt": []byte(wrongSums), file: archive,
		}, true, []string{"verified against SHASUMS256.txt signed by", "REACHED UNPACK"}, true},
		{"the signed sum is enforced", map[string][]byte{
			"SHASUMS256.txt.asc": signed(t, key, wrongSums), "SHASUMS256.txt": []byte(sums), file: archive,
		}, false, []string{
			"checksum mismatch for ", "expected (SHASUMS256.txt signed by " + key.Fingerprint + "): " + strings.Repeat("e", 64),
		}, true},
		{"signed in 2020 by a key expired since (a retired releaser's)", map[string][]byte{
			"SHASUMS256.txt.asc": signed(t, retired, sums), file: archive,
		}, true, []string{
			"SHASUMS256.txt.asc: good signature by " + retired.Fingerprint + " (Retired Releaser <retired@example.test>)", "REACHED UNPACK",
		}, true},
		{"tampered SHASUMS256.txt.asc", map[string][]byte{
			"SHASUMS256.txt.asc": bytes.Replace(good, []byte("darwin-arm64"), []byte("darwin-arm65"), 1), file: archive,
		}, false, []string{
			"BAD signature: SHASUMS256.txt.asc (http://127.0.0.1:",
			"/dist/v" + testVersion + "/SHASUMS256.txt.asc) was signed by key " + key.KeyID(),
		}, false},
		{"signed by an unknown key", map[string][]byte{
			"SHASUMS256.txt.asc": signed(t, stranger, sums), file: archive,
		}, false, []string{
			"SHASUMS256.txt.asc (http://127.0.0.1:",
			"is signed by key " + stranger.KeyID() + " (fingerprint " + stranger.Fingerprint + "), which is not a Node.js release key nor in node_release_keys",
			"add that key (its armored public key file) to node_release_keys",
		}, false},
		{"no signature served", map[string][]byte{
			"SHASUMS256.txt": []byte(sums), file: archive,
		}, false, []string{
			"the mirror serves no signature for SHASUMS256.txt:",
			"/dist/v" + testVersion + "/SHASUMS256.txt.asc: curl: (22)",
			"/dist/v" + testVersion + "/SHASUMS256.txt.sig: curl: (22)",
		}, false},
		{"detached signature when there is no .asc", map[string][]byte{
			"SHASUMS256.txt.sig": detached, "SHASUMS256.txt": []byte(sums), file: archive,
		}, true, []string{"SHASUMS256.txt.sig: good signature by " + key.Fingerprint, "REACHED UNPACK"}, true},
		{"detached signature of another text", map[string][]byte{
			"SHASUMS256.txt.sig": detached, "SHASUMS256.txt": []byte(wrongSums), file: archive,
		}, false, []string{"BAD signature: SHASUMS256.txt.sig (", "was signed by key " + key.KeyID()}, false},
		{"the signed text lacks the archive", map[string][]byte{
			"SHASUMS256.txt.asc": signed(t, key, strings.Replace(sums, file, file+".old", 1)), file: archive,
		}, false, []string{"the signed SHASUMS256.txt (", "has no single SHA-256 for " + file}, false},
		{"not a signature", map[string][]byte{
			"SHASUMS256.txt.asc": []byte("<html>mirror front page</html>\n"), file: archive,
		}, false, []string{"cannot verify SHASUMS256.txt.asc (", "gpgv exited 2"}, false},
		{"a second signature by an unknown key", map[string][]byte{
			"SHASUMS256.txt.asc": append(append(append([]byte{}, good...), '\n'), signed(t, stranger, sums)...), file: archive,
		}, false, []string{"cannot verify SHASUMS256.txt.asc (", "gpgv exited 2"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err, m := runTarballStep(t, c.files, key, retired)
			if c.ok != (err == nil) {
				t.Errorf("step error = %v; want success %v\n%s", err, c.ok, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !c.ok && strings.Contains(out, "REACHED UNPACK") {
				t.Errorf("a failed check went on to unpack:\n%s", out)
			}
			if got := m.requests(file) > 0; got != c.download {
				t.Errorf("archive downloaded: %v; want %v", got, c.download)
			}
		})
	}
}

func sha(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// TestTarballGolden renders the step both ways: verified by signature (the
// keyring shown by its keys, not its bytes) and by the unsigned sum.
func TestTarballGolden(t *testing.T) {
	keys := releasekeys.NodeJS()[:2]
	golden.Steps(t, "tarball",
		InstallTarball(Tarball{Mirror: "https://nodejs.org/dist", Version: "22.12.0", Platform: "linux-x64", Keys: keys}),
		InstallTarball(Tarball{Mirror: "https://nodejs.org/dist", Version: "22.12.0", Platform: "linux-x64",
			SHA256: "22982235e1b71fa8850f82edd09cdae7e3f32df1764a9ec298c72d25ef2c164f"}))
}
