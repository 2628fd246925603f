//go:build e2e

package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	pluginsdk "github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
	"github.com/nodebake/packer-plugin-node/version"
)

// releaseTargets are the platforms every release must carry.
var releaseTargets = []struct{ os, arch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
	{"freebsd", "amd64"}, {"freebsd", "arm64"},
}

const releaseTemplate = "test/e2e/testdata/release.pkr.hcl"

// TestRelease checks what `make release-snapshot` (GoReleaser on
// .goreleaser.yml) left in dist/, the way `packer init` would take it from a
// GitHub release, then installs the linux/amd64 binary from its zip into a
// plugin directory of its own and runs a template that uses all three
// components with it: node-ami against a fake EC2, node-primal and
// node-carnivore against a sandbox Debian.
func TestRelease(t *testing.T) {
	ph := newPhases(t)
	root := repoRoot(t)
	dist := filepath.Join(root, "dist")

	// The checksum file names the version; the version is what this commit
	// should be stamped with: the tag's on a tagged commit, version/'s -dev
	// otherwise.
	sumsFiles, _ := filepath.Glob(filepath.Join(dist, "packer-plugin-node_v*_SHA256SUMS"))
	if len(sumsFiles) != 1 {
		t.Fatalf("want one packer-plugin-node_v<version>_SHA256SUMS in %s, found %v: run `make release-snapshot` first (`make e2e` does)", dist, sumsFiles)
	}
	ver := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(sumsFiles[0]), "packer-plugin-node_v"), "_SHA256SUMS")
	if want := expectedReleaseVersion(t, root); ver != want {
		t.Errorf("the release is versioned %q; want %q", ver, want)
	}
	sums := readSHA256SUMS(t, sumsFiles[0])

	// The API version in the names is the SDK's, the one Packer checks.
	api := fmt.Sprintf("x%s.%s", pluginsdk.APIVersionMajor, pluginsdk.APIVersionMinor)
	nameRE := regexp.MustCompile(`^packer-plugin-node_v` + regexp.QuoteMeta(ver) + `_x\d+\.\d+_[a-z0-9]+_[a-z0-9]+\.zip$`)
	for name := range sums {
		if !nameRE.MatchString(name) {
			t.Errorf("SHA256SUMS lists %q, not a zip named packer-plugin-node_v%s_<api>_<os>_<arch>.zip", name, ver)
		}
	}

	// RELEASE_TARGETS ("linux/amd64") narrows the check to the snapshot
	// `make e2e` makes; unset, a release must carry every target.
	targets := releaseTargets
	if only := os.Getenv("RELEASE_TARGETS"); only != "" {
		targets = nil
		for _, tg := range releaseTargets {
			if strings.Contains(","+only+",", ","+tg.os+"/"+tg.arch+",") {
				targets = append(targets, tg)
			}
		}
		t.Logf("RELEASE_TARGETS=%s: checking %d of the %d release targets (make release-check checks all)", only, len(targets), len(releaseTargets))
	}
	if len(sums) != len(targets) {
		t.Errorf("SHA256SUMS lists %d zips; want %d", len(sums), len(targets))
	}
	var linuxBin []byte
	for _, tg := range targets {
		base := fmt.Sprintf("packer-plugin-node_v%s_%s_%s_%s", ver, api, tg.os, tg.arch)
		bin := checkReleaseZip(t, dist, base, tg.os, tg.arch, sums)
		if bin == nil {
			continue
		}
		checkReleaseBinary(t, root, base, tg.os, tg.arch, bin)
		if tg.os == "linux" && tg.arch == "amd64" {
			linuxBin = bin
		}
	}
	if linuxBin == nil {
		t.Fatal("no usable linux/amd64 binary in the release")
	}
	checkReleaseIsCurrent(t, root, ver, linuxBin)

	// The binary says of itself what its name says: Packer 1.11+ loads a
	// plugin only if its describe matches its file name.
	base := fmt.Sprintf("packer-plugin-node_v%s_%s_linux_amd64", ver, api)
	unpacked := filepath.Join(t.TempDir(), base)
	if err := os.WriteFile(unpacked, linuxBin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(unpacked, "describe").Output()
	if err != nil {
		t.Fatalf("%s describe: %v", base, err)
	}
	var desc pluginsdk.SetDescription
	if err := json.Unmarshal(out, &desc); err != nil {
		t.Fatalf("%s describe: %v\n%s", base, err, out)
	}
	if got := fmt.Sprintf("packer-plugin-node_v%s_%s_linux_amd64", desc.Version, desc.APIVersion); got != base {
		t.Errorf("describe says %s (version %q, api %q); the file is %s", got, desc.Version, desc.APIVersion, base)
	}
	slices.Sort(desc.Provisioners)
	slices.Sort(desc.Datasources)
	if !slices.Equal(desc.Provisioners, []string{"carnivore", "primal"}) || !slices.Equal(desc.Datasources, []string{"ami", "fingerprint"}) {
		t.Errorf("describe lists provisioners %v and data sources %v; want [carnivore primal] and [ami fingerprint]", desc.Provisioners, desc.Datasources)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Installed by Packer itself into a plugin directory of the test's own,
	// so the build below can only run the released binary.
	pp := t.TempDir()
	t.Setenv("PACKER_PLUGIN_PATH", pp)
	ph.run("packer plugins install --path", func() {
		// runPacker wants the plugin installed already: call Packer itself.
		bin := os.Getenv("PACKER_BIN")
		if bin == "" {
			bin = filepath.Join(root, ".tools", "bin", "packer")
		}
		cmd := exec.Command(bin, "plugins", "install", "--path", unpacked, "github.com/nodebake/node")
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("packer plugins install --path %s: %v\n%s", base, err, out)
		}
	})
	installed := filepath.Join(pp, "github.com", "nodebake", "node", base)
	if b, err := os.ReadFile(installed); err != nil || !bytes.Equal(b, linuxBin) {
		t.Fatalf("Packer did not install the release binary as %s (%v)", installed, err)
	}
	listed, err := runPacker(t, "plugins", "installed")
	if err != nil || strings.TrimSpace(listed) != installed {
		t.Fatalf("packer plugins installed = %q (%v); want only %s", listed, err, installed)
	}

	// A build with all three components.
	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())
	const amiID, amiName = "ami-0e2e0000000000042", "example-primal 1700000000"
	fake.reset([]ec2Image{awsImage(amiID, amiName, "2023-11-14T22:13:20.000Z")})
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	var build string
	ph.run("packer build (node-ami, node-primal, node-carnivore)", func() {
		build, err = runPacker(t, "build",
			"-var", "host="+tgt.IP,
			"-var", "ssh_username="+sandbox.AdminUser,
			"-var", "ssh_private_key_file="+tgt.KeyPath,
			"-var", "https_proxy="+tgt.ProxyURL,
			"-var", "no_proxy="+tgt.HostIP,
			"-var", "ca_certificates="+hostCAs(t),
			releaseTemplate)
		if err != nil {
			t.Fatalf("packer build with the released plugin failed: %v", err)
		}
	})
	if reqs := fake.requests(); len(reqs) == 1 {
		checkDescribeImages(t, reqs[0], "example-primal *")
	} else {
		t.Errorf("want 1 DescribeImages request from node-ami, the fake EC2 got %d", len(reqs))
	}
	if want := "node-fingerprint says " + fingerprint.Of(fingerprint.Inputs{Architecture: "x86_64", NodeInstaller: "tarball",
		NodeVersion: "22.12.0", Packages: []string{"curl"}}).Value; !strings.Contains(build, want) {
		t.Errorf("the build with the released binary did not print %q", want)
	}
	if want := "node-ami found " + amiID + " (" + amiName + ")"; !strings.Contains(build, want) {
		t.Errorf("the build output lacks %q: the data source's result did not reach the build", want)
	}
	if !strings.Contains(build, "node-carnivore: precache hit") {
		t.Error("node-carnivore did not report a precache hit on node-primal's precache")
	}
	checkSecretsNotShown(t, build)
	expectOn(t, tgt, "readlink /usr/local/bin/node", "/usr/bin/node")
	expectOn(t, tgt, "systemctl is-enabled nginx", "enabled")
	if m := readManifest(t, tgt); m.InstanceUser != "node" {
		t.Errorf("node-primal's manifest says instance_user %q; want node", m.InstanceUser)
	}
	checkCarnivore(t, tgt)
}

// expectedReleaseVersion is the version a release of HEAD carries: X.Y.Z on
// a commit tagged vX.Y.Z, else version/version.go's (0.1.0-dev).
func expectedReleaseVersion(t *testing.T, root string) string {
	cmd := exec.Command("git", "describe", "--tags", "--exact-match", "HEAD")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	}
	if version.VersionPrerelease != "dev" {
		t.Fatalf("version/version.go's VersionPrerelease is %q; outside a release it is dev", version.VersionPrerelease)
	}
	return version.Version + "-dev"
}

// checkReleaseIsCurrent builds the plugin from this source tree with the
// release's flags (CGO_ENABLED=0, -trimpath, stripped, the version through
// -ldflags) and wants the very bytes of the release's linux/amd64 binary: dist/
// was made from this source, by the flags .goreleaser.yml claims, and the
// build is reproducible.
func checkReleaseIsCurrent(t *testing.T, root, ver string, released []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "packer-plugin-node")
	const mod = "github.com/nodebake/packer-plugin-node"
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags=-s -w -X "+mod+"/version.Version="+ver+" -X "+mod+"/version.VersionPrerelease=", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, released) {
		t.Fatalf("the release's linux/amd64 binary (%d bytes) is not what this source builds with the release's flags (%d bytes): "+
			"dist/ is stale (run `make release-snapshot` again) or .goreleaser.yml's flags changed", len(released), len(b))
	}
}

// readSHA256SUMS parses "<sha256>  <file>" lines, as Packer does.
func readSHA256SUMS(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: malformed line %q", filepath.Base(path), sc.Text())
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// checkReleaseZip checks one platform's zip the way `packer init` takes it:
// named <base>.zip, listed in SHA256SUMS with its SHA-256, holding exactly
// the binary <base> (<base>.exe on Windows), executable. It returns the
// binary, or nil after reporting why there is none.
func checkReleaseZip(t *testing.T, dist, base, goos, goarch string, sums map[string]string) []byte {
	t.Helper()
	zipName := base + ".zip"
	b, err := os.ReadFile(filepath.Join(dist, zipName))
	if err != nil {
		t.Errorf("%s/%s: no %s in dist/ (%v)", goos, goarch, zipName, err)
		return nil
	}
	sum := sha256.Sum256(b)
	if got, want := sums[zipName], hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256SUMS has %q for %s; the file's SHA-256 is %s", got, zipName, want)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Errorf("%s: %v", zipName, err)
		return nil
	}
	want := base
	if goos == "windows" {
		want += ".exe"
	}
	if len(zr.File) != 1 || zr.File[0].Name != want {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Errorf("%s holds %v; Packer wants exactly [%s]", zipName, names, want)
		return nil
	}
	if goos != "windows" && zr.File[0].Mode()&0o111 == 0 {
		t.Errorf("%s in %s is not executable (%v)", want, zipName, zr.File[0].Mode())
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Errorf("%s: %v", zipName, err)
		return nil
	}
	defer rc.Close()
	bin, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("%s: %v", zipName, err)
		return nil
	}
	return bin
}

// checkReleaseBinary checks a release binary is for its platform, within the
// size budget (linux/amd64), stripped (no symbol table, no DWARF) and built with
// -trimpath (no path of this machine inside).
func checkReleaseBinary(t *testing.T, root, base, goos, goarch string, bin []byte) {
	t.Helper()
	// The budget is the linux/amd64 binary's, the one TestStrippedBinarySize
	// checks; the same code is a few hundred KB larger as a Windows or macOS
	// executable, which is reported, not held to it.
	t.Logf("%s: %d bytes (%.2f MiB; budget %.0f MiB for linux/amd64)", base, len(bin), float64(len(bin))/(1<<20), float64(maxStrippedSize)/(1<<20))
	if goos == "linux" && goarch == "amd64" && len(bin) > maxStrippedSize {
		t.Errorf("%s is %d bytes, over the %d-byte budget", base, len(bin), maxStrippedSize)
	}
	var sections []string
	var arch string
	r := bytes.NewReader(bin)
	switch goos {
	case "linux", "freebsd":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Errorf("%s is not an ELF file: %v", base, err)
			return
		}
		arch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		osabi := map[elf.OSABI]string{elf.ELFOSABI_NONE: "linux", elf.ELFOSABI_LINUX: "linux", elf.ELFOSABI_FREEBSD: "freebsd"}[f.OSABI]
		if osabi != goos {
			t.Errorf("%s: ELF OS ABI %v, not %s", base, f.OSABI, goos)
		}
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Errorf("%s is not a Mach-O file: %v", base, err)
			return
		}
		arch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Errorf("%s is not a PE file: %v", base, err)
			return
		}
		arch = map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
		if len(f.Symbols) != 0 {
			t.Errorf("%s has %d COFF symbols: not stripped", base, len(f.Symbols))
		}
	}
	if arch != goarch {
		t.Errorf("%s is built for %q, not %s", base, arch, goarch)
	}
	for _, s := range sections {
		// (Go's PE files keep an empty .symtab section; their COFF symbols
		// are checked above.)
		if (s == ".symtab" && goos != "windows") || strings.Contains(s, "debug") {
			t.Errorf("%s has a %s section: not stripped", base, s)
		}
	}
	modcache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	for _, p := range []string{root, strings.TrimSpace(string(modcache))} {
		if p == "" {
			continue
		}
		if bytes.Contains(bin, []byte(p)) {
			t.Errorf("%s contains the local path %s: not built with -trimpath", base, p)
		}
	}
}
