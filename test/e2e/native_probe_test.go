//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/vm"
)

// The native-addon check: native-probe (testdata/native-probe) is a
// dependency whose install script compiles a Node-API addon with the
// image's C compiler, against the headers of the image's Node.js. Built
// into the precache on the image, its build/probe.node must be an ELF
// shared object for the image's CPU, and load in the image's Node.js,
// whose arch() then names that CPU. (npm does not show install scripts'
// output: the addon itself is the evidence. The package holds only its
// sources, so a probe.node on the image was compiled there.)
const (
	nativeProbe        = "native-probe"
	nativeProbeVersion = "1.0.0"
	nativeProbeAddon   = "node_modules/native-probe/build/probe.node"
)

// localPackage is a package tarball the registry stand-in serves itself.
type localPackage struct {
	version   string
	tgz       []byte
	integrity string // sha512-BASE64, as lockfiles have it
	shasum    string // hex SHA-1, as packuments have it
}

// packNativeProbe packs testdata/native-probe as npm would: its files
// below package/, in a gzipped tar.
func packNativeProbe(t *testing.T) localPackage {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "test", "e2e", "testdata", nativeProbe)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"package.json", "build.sh", "index.js", "probe.c"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(b)),
			ModTime: time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	s512 := sha512.Sum512(buf.Bytes())
	s1 := sha1.Sum(buf.Bytes())
	return localPackage{version: nativeProbeVersion, tgz: buf.Bytes(),
		integrity: "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), shasum: hex.EncodeToString(s1[:])}
}

// servePackage makes the stand-in serve a package itself: its packument
// at /NAME and its tarball at /NAME/-/NAME-VERSION.tgz. Call it before
// the stand-in is used.
func (r *tokenRegistry) servePackage(name string, p localPackage) {
	if r.local == nil {
		r.local = map[string]localPackage{}
	}
	r.local[name] = p
}

// serveLocal answers a request for a package of r.local; it says whether
// it did. A stand-in serving packages of its own publishes no signing keys
// (404 for /-/npm/v1/keys, as a private registry that does not sign): its
// own packages carry no registry signature, so npm_audit_signatures' auto
// mode skips the check rather than fail on them.
func (r *tokenRegistry) serveLocal(w http.ResponseWriter, req *http.Request) bool {
	if len(r.local) > 0 && req.URL.Path == "/-/npm/v1/keys" {
		http.NotFound(w, req)
		return true
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	p, ok := r.local[name]
	if !ok {
		return false
	}
	file := name + "-" + p.version + ".tgz"
	switch rest {
	case "":
		tarball := "http://" + req.Host + "/" + name + "/-/" + file
		doc, _ := json.Marshal(map[string]any{
			"name":      name,
			"dist-tags": map[string]string{"latest": p.version},
			"versions": map[string]any{p.version: map[string]any{
				"name": name, "version": p.version, "scripts": map[string]string{"install": "sh build.sh"},
				"dist": map[string]string{"tarball": tarball, "integrity": p.integrity, "shasum": p.shasum},
			}},
		})
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	case "-/" + file:
		r.tarballs.Add(1)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(p.tgz)
	default:
		http.NotFound(w, req)
	}
	return true
}

// nativeApp is example/app with native-probe added to its dependencies
// (package.json and package-lock.json), in a directory of the test's: the
// app the arm64 chain precaches and bakes.
func nativeApp(t *testing.T, p localPackage) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "example", "app")
	dst := filepath.Join(t.TempDir(), "app")
	if out, err := runCmd("cp", "-a", src, dst); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
	edit := func(name string, f func(doc map[string]any)) {
		path := filepath.Join(dst, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		f(doc)
		if b, err = json.MarshalIndent(doc, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("package.json", func(doc map[string]any) {
		doc["dependencies"].(map[string]any)[nativeProbe] = p.version
	})
	edit("package-lock.json", func(doc map[string]any) {
		pkgs := doc["packages"].(map[string]any)
		pkgs[""].(map[string]any)["dependencies"].(map[string]any)[nativeProbe] = p.version
		pkgs["node_modules/"+nativeProbe] = map[string]any{
			"version": p.version, "integrity": p.integrity, "hasInstallScript": true, "license": "MIT",
		}
	})
	return dst
}

// elfMachines maps process.arch to the ELF machine of its binaries.
var elfMachines = map[string]elf.Machine{"x64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkNativeAddon checks, in a booted VM, the addon native-probe's
// install script built in dir (an app or precache directory): an ELF
// shared object for the CPU of nodeArch (process.arch), which the image's
// Node.js loads as the instance user and which says it was compiled for
// that CPU.
func checkNativeAddon(t *testing.T, m *vm.VM, dir, nodeArch string) {
	t.Helper()
	addon := dir + "/" + nativeProbeAddon
	out, err := m.Run("base64 -w0 " + addon)
	if err != nil {
		t.Errorf("the native addon %s is not on the image: %v", addon, err)
		return
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("base64 of %s: %v", addon, err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s is not an ELF file: %v", addon, err)
		return
	}
	if want := elfMachines[nodeArch]; f.Machine != want || f.Type != elf.ET_DYN {
		t.Errorf("%s is an ELF %s for %s; want a shared object (ET_DYN) for %s", addon, f.Type, f.Machine, want)
	} else {
		t.Logf("%s: ELF %s %s (%d bytes), built on the image", addon, f.Type, f.Machine, len(b))
	}
	cmd := fmt.Sprintf(`sudo -n -u node /usr/local/bin/node -p 'require(%q).arch() + " " + process.arch'`, dir+"/node_modules/"+nativeProbe)
	got, err := m.Run(cmd)
	if want := nodeArch + " " + nodeArch; err != nil || strings.TrimSpace(got) != want {
		t.Errorf("%s = %q, %v; want %q (the addon loads in the image's Node.js, compiled for its CPU)", cmd, strings.TrimSpace(got), err, want)
	}
}
