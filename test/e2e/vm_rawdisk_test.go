//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/test/vm"
)

// tokenRegistry is an npm registry stand-in on the host's loopback (a QEMU
// guest reaches it as 10.0.2.2) that needs no real account: it notes
// whether each request carried the build's marker npm token, then forwards
// the request, without the token, to the registry the host's npm uses.
// Packuments name their tarballs with absolute URLs on that registry; the
// stand-in rewrites them onto itself, so the whole install, tarballs
// included, goes through it with the token.
type tokenRegistry struct {
	// Token is a marker unique to the run, valid as an npm token: a value
	// that is nowhere unless the build put it there.
	Token string
	// URL is the stand-in's URL on the host, GuestURL as a QEMU guest sees it.
	URL, GuestURL string

	upstream string // the host's registry, with a trailing slash
	client   *http.Client
	// Packages the stand-in serves itself (servePackage) instead of
	// forwarding: name -> its tarball.
	local map[string]localPackage
	// Requests that carried "Authorization: Bearer <Token>", those that did
	// not, and the tarballs served (to either).
	withToken, withoutToken, tarballs atomic.Int64
	// signing, when set, signs the packuments it serves and publishes its
	// key, as a registry that supports npm audit signatures does
	// (signing_registry_test.go).
	signing *registrySigner
}

// startTokenRegistry serves a tokenRegistry on 127.0.0.1 for the test's
// duration, forwarding to the registry of `npm config get registry`.
func startTokenRegistry(t *testing.T) *tokenRegistry {
	t.Helper()
	r := startRegistryStandIn(t, "127.0.0.1:0")
	// The client's own view of the stand-in: 10.0.2.2:PORT from the guest.
	r.GuestURL = strings.Replace(r.URL, "127.0.0.1", "10.0.2.2", 1)
	return r
}

// startRegistryStandIn serves a tokenRegistry on addr for the test's
// duration.
func startRegistryStandIn(t *testing.T, addr string) *tokenRegistry {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	r := &tokenRegistry{Token: "npm_" + hex.EncodeToString(b)}
	if err := precache.ValidToken(r.Token); err != nil {
		t.Fatalf("the marker token is not a valid npm token: %v", err)
	}
	out, err := exec.Command("npm", "config", "get", "registry").Output()
	if err != nil {
		t.Fatalf("npm config get registry (the host's registry, which the stand-in forwards to): %v", err)
	}
	up, err := url.Parse(strings.TrimSpace(string(out)))
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		t.Fatalf("npm config get registry = %q: not an http(s) URL", strings.TrimSpace(string(out)))
	}
	r.upstream = strings.TrimSuffix(up.String(), "/") + "/"
	// Go's default transport: the system's roots (/etc/ssl/certs, with the
	// CA of a TLS-inspecting network) and the host's proxy settings.
	r.client = &http.Client{Timeout: 2 * time.Minute}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.URL = "http://" + ln.Addr().String() + "/"
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *tokenRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Authorization") == "Bearer "+r.Token {
		r.withToken.Add(1)
	} else {
		r.withoutToken.Add(1)
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only stand-in", http.StatusMethodNotAllowed)
		return
	}
	if r.signing != nil && req.URL.Path == "/-/npm/v1/keys" {
		r.signing.serveKeys(w)
		return
	}
	if r.serveLocal(w, req) {
		return
	}
	target := r.upstream + strings.TrimPrefix(req.URL.EscapedPath(), "/")
	if req.URL.RawQuery != "" {
		target += "?" + req.URL.RawQuery
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, target, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Never the Authorization header: the marker is not the upstream's.
	// Nor Accept-Encoding: the transport asks for gzip itself and hands
	// back the body decompressed, ready to rewrite.
	conditional := []string{"If-None-Match", "If-Modified-Since"}
	if r.signing != nil {
		// A packument it signs differs from the upstream's: no validator
		// of the upstream's may make npm keep an older copy.
		conditional = nil
	}
	for _, h := range append([]string{"Accept", "User-Agent"}, conditional...) {
		if v := req.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	resp, err := r.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "ETag", "Last-Modified", "Cache-Control"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	if r.signing != nil {
		for _, h := range []string{"ETag", "Last-Modified"} {
			w.Header().Del(h)
		}
		w.Header().Set("Cache-Control", "no-store")
	}
	var body io.Reader = resp.Body
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		// The client's own view of the stand-in (10.0.2.2:PORT from a QEMU guest).
		b = bytes.ReplaceAll(b, []byte(r.upstream), []byte("http://"+req.Host+"/"))
		if r.signing != nil && resp.StatusCode == http.StatusOK {
			if b, err = r.signing.signPackument(b); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		body = bytes.NewReader(b)
	} else if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(req.URL.Path, "/-/") && strings.HasSuffix(req.URL.Path, ".tgz") {
		r.tarballs.Add(1)
	}
	w.WriteHeader(resp.StatusCode)
	if req.Method == http.MethodGet {
		_, _ = io.Copy(w, body)
	}
}

// checkTokenUsed checks that the precache's install went through the
// stand-in with the marker token: every request carried it and every
// production dependency in the lockfile came as a tarball from it. Only
// then does finding no token on the disk mean something.
func (r *tokenRegistry) checkTokenUsed(t *testing.T, lockfile string) {
	t.Helper()
	b, err := os.ReadFile(lockfile)
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Dev bool `json:"dev"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("%s: %v", lockfile, err)
	}
	prod := 0
	for k, p := range lock.Packages {
		if strings.HasPrefix(k, "node_modules/") && !p.Dev {
			prod++
		}
	}
	with, without, tgz := r.withToken.Load(), r.withoutToken.Load(), r.tarballs.Load()
	t.Logf("npm registry stand-in: %d requests with the marker token, %d without, %d tarballs (lockfile: %d production packages)", with, without, tgz, prod)
	if with == 0 || without != 0 {
		t.Errorf("the registry stand-in got %d requests with the marker npm token and %d without; want all with it", with, without)
	}
	if prod == 0 || tgz < int64(prod) {
		t.Errorf("the registry stand-in served %d tarballs; want the lockfile's %d production packages", tgz, prod)
	}
}

// checkTokenNotOnDisk checks, once the primal build is over and its VM shut
// down, that the marker npm token is not in the build's output and not
// anywhere on the image's disk: not in a file, not in a deleted file's
// blocks, not in a journal. The image, with its backing chain, is
// converted to a raw disk whose every byte is searched. A value the build
// wrote to the disk (the lockfile's sha256 in the manifest) must be found
// by the same search, or finding no token would prove nothing.
func checkTokenNotOnDisk(t *testing.T, ph *phases, out, image string, r *tokenRegistry, lockfile string) {
	t.Helper()
	r.checkTokenUsed(t, lockfile)
	if strings.Contains(out, r.Token) {
		t.Error("the primal build output shows the npm token")
	}
	control := sha256File(t, lockfile)
	ph.run("raw disk of the primal image: convert + search for the npm token", func() {
		start := time.Now()
		raw := filepath.Join(t.TempDir(), "primal.raw")
		defer os.Remove(raw)
		if out, err := exec.Command("qemu-img", "convert", "-O", "raw", image, raw).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img convert -O raw %s: %v\n%s", image, err, out)
		}
		converted := time.Since(start)
		counts, read, err := rawCount(raw, r.Token, control)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(raw)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("raw disk of %s (%d GiB): its %d MiB of data searched (convert %s, search %s): npm token %d times, manifest's lockfile sha256 %d times",
			filepath.Base(image), info.Size()>>30, read>>20, converted.Round(100*time.Millisecond), (time.Since(start) - converted).Round(100*time.Millisecond), counts[0], counts[1])
		if counts[1] == 0 {
			t.Errorf("the raw disk does not hold the lockfile sha256 %s the manifest records: the search is broken", control)
		}
		if counts[0] != 0 {
			t.Errorf("the raw disk of the primal image holds the npm token %d times; want 0", counts[0])
		}
	})
}

// rawChunk is how much of the raw disk rawCount reads at a time.
var rawChunk = 8 << 20

// Whence values of lseek(2) on Linux that find a sparse file's data.
const (
	seekData = 3
	seekHole = 4
)

// rawCount counts the occurrences of each needle in the file, whose data
// it reads once; holes (a raw disk's unallocated blocks, zeros) are
// skipped: no needle has a zero byte. It returns the bytes read.
func rawCount(name string, needles ...string) ([]int, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	for _, n := range needles {
		if n == "" || strings.IndexByte(n, 0) >= 0 {
			return nil, 0, fmt.Errorf("needle %q: empty or with a zero byte", n)
		}
	}
	counts := make([]int, len(needles))
	var read int64
	for pos := int64(0); ; {
		start, err := f.Seek(pos, seekData)
		if errors.Is(err, syscall.ENXIO) { // no data after pos
			return counts, read, nil
		}
		if err != nil {
			return nil, 0, err
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return nil, 0, err
		}
		n, err := countIn(io.NewSectionReader(f, start, end-start), needles, counts)
		read += n
		if err != nil {
			return nil, 0, err
		}
		pos = end
	}
}

// countIn adds to counts the occurrences of each needle in r, read in
// chunks that overlap so that no match is split, and returns the bytes read.
func countIn(r io.Reader, needles []string, counts []int) (int64, error) {
	keep := 0 // bytes carried over between chunks
	for _, n := range needles {
		keep = max(keep, len(n)-1)
	}
	buf := make([]byte, keep+rawChunk)
	carried := 0
	var read int64
	for {
		n, err := io.ReadFull(r, buf[carried:])
		read += int64(n)
		window := buf[:carried+n]
		for i, needle := range needles {
			nb := []byte(needle)
			for off := 0; ; {
				j := bytes.Index(window[off:], nb)
				if j < 0 {
					break
				}
				// A match that ends within the carried bytes was
				// counted with the previous chunk.
				if off+j+len(nb) > carried {
					counts[i]++
				}
				off += j + 1
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return read, nil
		}
		if err != nil {
			return read, err
		}
		carried = min(keep, len(window))
		copy(buf, window[len(window)-carried:])
	}
}

// checkTokenNotInFiles checks, on a boot of the primal image, that no file
// holds the marker npm token, nor the journal, while the same search finds
// the sha256 of lockfile (the app's, which the image precached) in the
// manifest. The command line never spells the token out (sudo logs command
// lines to the journal).
func checkTokenNotInFiles(t *testing.T, m *vm.VM, token, lockfile string) {
	t.Helper()
	control := sha256File(t, lockfile)
	head, tail := token[:len(token)/2], token[len(token)/2:]
	cmd := fmt.Sprintf(`sudo -n sh -c 'h=%s
grep -rasoF -e "${h}%s" -e %s /home /root /etc /var /tmp /srv /opt /usr/local
echo "journal: $(journalctl -q --no-pager -o cat | grep -cF -e "${h}%s")"'`, head, tail, control, tail)
	start := time.Now()
	got, err := m.Run(cmd)
	t.Logf("searched the primal VM's files for the npm token in %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Errorf("searching the primal VM's files for the npm token: %v\n%s", err, got)
		return
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		switch {
		case line == precache.ManifestPath+":"+control:
			found = true
		case strings.HasSuffix(line, control):
		case line == "journal: 0":
		default:
			t.Errorf("the primal VM holds the npm token: %s", strings.Replace(line, token, "<token>", 1))
		}
	}
	if !found {
		t.Errorf("the search of the primal VM's files does not find the lockfile sha256 in %s: it is broken\n%s", precache.ManifestPath, got)
	}
}

// TestRawCount checks the raw disk search on small files: matches across
// chunk boundaries, overlapping ones, and data around a hole, which is not
// read.
func TestRawCount(t *testing.T) {
	defer func(c int) { rawChunk = c }(rawChunk)
	data := "xxnpm_abcdxxxxx" + "aaaa" + "npm_abcd" + "npm_abc" + "aaa"
	name := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 2, 3, 7, 64} {
		rawChunk = chunk
		counts, read, err := rawCount(name, "npm_abcd", "aa", "absent")
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{2, 5, 0}; fmt.Sprint(counts) != fmt.Sprint(want) || read != int64(len(data)) {
			t.Errorf("chunk %d: counts %v, read %d; want %v, %d", chunk, counts, read, want, len(data))
		}
	}

	// "npm_abcd" at the start, before a 16 MiB hole, and at the very end.
	sparse := filepath.Join(t.TempDir(), "sparse.raw")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := f.WriteString("npm_abcd")
	_, err2 := f.WriteAt([]byte("npm_abcd"), 16<<20+8)
	if err := errors.Join(err1, err2, f.Close()); err != nil {
		t.Fatal(err)
	}
	rawChunk = 8 << 20
	counts, read, err := rawCount(sparse, "npm_abcd")
	if err != nil {
		t.Fatal(err)
	}
	if counts[0] != 2 || read >= 16<<20 {
		t.Errorf("sparse file: %d matches, %d bytes read; want 2 and the hole skipped", counts[0], read)
	}
}

// TestTokenRegistry checks the stand-in itself, with the host's npm: a
// clean install of example/app's production dependencies through it, with
// the marker token in an npmrc the way node-primal writes it, goes wholly
// through it and sends the token every time.
func TestTokenRegistry(t *testing.T) {
	r := startTokenRegistry(t)
	app := copyApp(t)
	_ = os.RemoveAll(filepath.Join(app, "node_modules"))
	npmrc := filepath.Join(t.TempDir(), "npmrc")
	if err := os.WriteFile(npmrc, []byte(precache.Npmrc(r.URL, r.Token)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "npm_config_userconfig="+npmrc, "npm_config_cache="+t.TempDir(), "npm_config_registry="+r.URL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci through the stand-in: %v\n%s", err, out)
	}
	r.checkTokenUsed(t, filepath.Join(app, "package-lock.json"))
}
