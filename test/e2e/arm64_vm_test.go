//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/vm"
)

const vmQuickTemplate = "test/e2e/testdata/vm-quick.pkr.hcl"

// quickARM64Packages are node-primal's packages on TestVMARM64's VM: what
// the app needs (native-probe's install script compiles C), not its
// defaults, whose C++ compiler and GraphicsMagick would double the time
// dpkg takes under emulation.
var quickARM64Packages = []string{"curl", "gcc", "libc6-dev"}

// TestVMARM64 is the arm64 tier in its cheapest real form: one boot of the arm64 Debian base image under
// qemu-system-aarch64 (machine virt, UEFI firmware, CPU emulation), and
// on it, in one `packer build` over SSH (the null builder), node-primal
// (Node.js's linux-arm64 release from the local mirror, verified by its
// signed SHASUMS256.txt; nginx; the nftables redirect of port 80; the
// precache of example/app plus native-probe, whose install script compiles
// a Node-API addon) then node-carnivore (the app from the precache, its
// service, the health check through port 80). Then: uname -m aarch64,
// process.arch arm64, the addon an aarch64 ELF that the image's Node.js
// loads, and the app answering through port 80 in the guest and from the
// host. No image is written and nothing is rebooted: TestVMChainARM64
// does the whole chain of images on arm64.
//
// `make e2e-arm64` runs both; `make e2e` (and so CI) does not: on a fresh
// machine the arm64 base image alone is built through qemu-user in about
// 21 minutes on 2 cores, and this test takes 8-9 more, which would put CI
// near its time limit.
func TestVMARM64(t *testing.T) {
	if os.Getenv(arm64Env) == "" {
		t.Skipf("the arm64 VM tier needs an arm64 base image (about 21 min to build on 2 cores) and 8-9 min under emulation: `make e2e-arm64` runs it (%s=1)", arm64Env)
	}
	ph := newPhases(t)
	if os.Getenv("PACKER_PLUGIN_PATH") == "" {
		t.Setenv("PACKER_PLUGIN_PATH", filepath.Join(repoRoot(t), ".packer.d", "plugins"))
	}
	var base vm.Base
	ph.run("arm64 base image (build or reuse)", func() { base = vm.BaseImageFor(t, vm.ARM64) })
	var mirrorDir string
	ph.run("Node.js mirror with linux-arm64 (build or reuse)", func() {
		mirrorDir = nodemirror.BuildPlatforms(t, []string{nodemirror.LinuxARM64}, nodemirror.Node22)
	})
	mirror := nodemirror.Serve(t, mirrorDir, "127.0.0.1:0")
	tokenReg := startTokenRegistry(t)
	probe := packNativeProbe(t)
	tokenReg.servePackage(nativeProbe, probe)
	app := nativeApp(t, probe)

	var m *vm.VM
	ph.run("boot the arm64 base image (UEFI, TCG)", func() {
		m = vm.Boot(t, vm.Config{Image: base.Image, KeyPath: base.KeyPath, User: base.User,
			Arch: base.Arch, Firmware: base.Firmware, Forward: []int{80}})
	})
	var out string
	ph.run("packer build (null builder over SSH: node-primal, node-carnivore)", func() {
		var err error
		out, err = runPacker(t, "build",
			"-var", "ssh_port="+strconv.Itoa(m.SSHPort),
			"-var", "ssh_username="+base.User,
			"-var", "ssh_private_key_file="+base.KeyPath,
			"-var", `packages=["`+strings.Join(quickARM64Packages, `","`)+`"]`,
			"-var", "node_version="+nodemirror.Node22,
			"-var", "node_mirror="+mirror.URLFor("10.0.2.2"),
			"-var", `node_release_keys=["`+mirror.Key.PublicKey+`"]`,
			"-var", "ca_certificates="+hostCAs(t),
			"-var", "app_dir="+app,
			"-var", "npm_registry="+tokenReg.GuestURL, "-var", "npm_token="+tokenReg.Token,
			vmQuickTemplate)
		if err != nil {
			t.Fatalf("packer build %s failed: %v\nserial console (last lines):\n%s", vmQuickTemplate, err, m.SerialTail(40))
		}
	})
	for _, want := range []string{
		"install Node.js v" + nodemirror.Node22 + " (linux-arm64, from ",
		"verified against SHASUMS256.txt",
		"precache hit: package-lock.json (sha256 ",
		"health check http://127.0.0.1:80/healthz",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q", want)
		}
	}
	if strings.Contains(out, tokenReg.Token) {
		t.Error("the build output shows the npm token")
	}
	tokenReg.checkTokenUsed(t, filepath.Join(app, "package-lock.json"))
	checkSecretsNotShown(t, out)
	ph.run("checks on the arm64 VM", func() {
		checkArch(t, m, vm.ARM64, "arm64")
		checkNativeAddon(t, m, "/home/node/app/precache", "arm64")
		checkNativeAddon(t, m, "/home/node/app/server", "arm64")
		if got, err := m.Run("sudo -n nft list table ip node_primal | grep -c 'tcp dport 80 redirect to :8080'"); err != nil || strings.TrimSpace(got) != "2" {
			t.Errorf("the port 80 redirect (nftables, table ip node_primal): %q, %v", strings.TrimSpace(got), err)
		}
		checkAppVM(t, m)
	})
}
