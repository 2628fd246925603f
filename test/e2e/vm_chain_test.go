//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/vm"
)

const (
	localPrimalTemplate    = "example/local/primal.pkr.hcl"
	localCarnivoreTemplate = "example/local/carnivore.pkr.hcl"
)

// TestVMChain builds the whole immutable pipeline as real VM images, the
// chain `make demo` shows, with one primal build for all its checks:
//
//  1. primal: the QEMU builder boots the Debian base image, node-primal
//     provisions it over SSH as admin, for the app's account node that it
//     makes (Node.js from a local mirror the guest reaches on the host's
//     loopback, the example app's dependencies precached), the VM shuts
//     down: primal.qcow2 over the base image.
//  2. a fresh boot of primal.qcow2 checks that what node-primal set up
//     survives a reboot: nginx enabled and serving, the kernel setting
//     applied again from /etc/sysctl.d, the port redirect loaded again, the
//     log directory's owner, Node.js.
//  3. carnivore: the QEMU builder boots primal.qcow2, node-carnivore bakes
//     example/app into it (a precache hit: the npm registry it is given, a
//     counting stand-in, sees no request), health-gated: carnivore.qcow2
//     over primal.qcow2.
//  4. a fresh boot of carnivore.qcow2 (a new qemu process) checks the app
//     service started at boot, nginx serving the app and its static files
//     through port 80, .env.json's mode and owner, and fetches the page from
//     the host through a forward of the guest's port 80 on 127.0.0.1.
func TestVMChain(t *testing.T) {
	if testing.Short() {
		t.Skip("VM image builds: minutes under CPU emulation")
	}
	vmChain(t, vm.AMD64)
}

// arm64Env and arm64ChainEnv name the environment variables that run the
// arm64 tier: TestVMARM64 and TestVMChainARM64 (`make e2e-arm64` sets both).
const (
	arm64Env      = "E2E_ARM64"
	arm64ChainEnv = "E2E_ARM64_CHAIN"
)

// TestVMChainARM64 is TestVMChain on arm64: an arm64 Debian base image
// (built through qemu-user), booted under qemu-system-aarch64 (machine
// virt, UEFI firmware, CPU emulation) for each build and check. On top of
// TestVMChain's checks: Node.js is the linux-arm64 release (process.arch
// arm64, uname -m aarch64), and the app, example/app with native-probe
// added (a dependency whose install script compiles a Node-API addon),
// has that addon built for aarch64 in the precache and in the app, where
// the image's Node.js loads it.
//
// Every step runs emulated on another architecture: it takes most of an
// hour on a 2-core machine, so it runs in `make e2e-arm64`, with
// TestVMARM64 (arm64_vm_test.go), its cheapest real form.
func TestVMChainARM64(t *testing.T) {
	if os.Getenv(arm64ChainEnv) == "" {
		t.Skipf("the arm64 VM chain takes most of an hour under emulation: `make e2e-arm64` runs it (%s=1)", arm64ChainEnv)
	}
	vmChain(t, vm.ARM64)
}

// vmChain is TestVMChain for an architecture.
func vmChain(t *testing.T, arch string) {
	ph := newPhases(t)
	// `make e2e` exports these; a plain `go test` gets the same defaults.
	if os.Getenv("PACKER_PLUGIN_PATH") == "" {
		t.Setenv("PACKER_PLUGIN_PATH", filepath.Join(repoRoot(t), ".packer.d", "plugins"))
	}
	// Packer keeps download locks in its cache, ./packer_cache by default.
	t.Setenv("PACKER_CACHE_DIR", t.TempDir())

	var base vm.Base
	ph.run("base image (build or reuse)", func() { base = vm.BaseImageFor(t, arch) })
	ph.run("qemu builder plugin (make qemu-plugin)", func() { installQemuPlugin(t) })
	var mirrorDir string
	platform, nodeArch := nodemirror.LinuxX64, "x64"
	if arch == vm.ARM64 {
		platform, nodeArch = nodemirror.LinuxARM64, "arm64"
	}
	ph.run("Node.js mirror (build or reuse)", func() {
		mirrorDir = nodemirror.BuildPlatforms(t, []string{platform}, nodemirror.Node22)
	})
	// On the host's loopback; QEMU's user networking shows it to the guest
	// as 10.0.2.2.
	mirror := nodemirror.Serve(t, mirrorDir, "127.0.0.1:0")
	work := t.TempDir()
	// The precache's npm registry: a stand-in that wants a marker token.
	tokenReg := startTokenRegistry(t)
	// The app: example/app; on arm64 with the native-addon check's
	// dependency, which the stand-in serves.
	app := filepath.Join(repoRoot(t), "example", "app")
	native := arch == vm.ARM64
	if native {
		probe := packNativeProbe(t)
		tokenReg.servePackage(nativeProbe, probe)
		app = nativeApp(t, probe)
	}
	// The architecture's QEMU settings (the templates' arch variable).
	archVars := []string{"-var", "arch=" + arch}
	if arch == vm.ARM64 {
		archVars = append(archVars, "-var", "uefi_firmware="+base.Firmware)
	}
	boot := func(image string, forward ...int) *vm.VM {
		return vm.Boot(t, vm.Config{Image: image, KeyPath: base.KeyPath, User: base.User,
			Arch: base.Arch, Firmware: base.Firmware, Forward: forward})
	}

	// 1. The primal image.
	primalDir := filepath.Join(work, "primal")
	primalSerial := filepath.Join(work, "primal-build-serial.log")
	primalArgs := append([]string{"build"}, archVars...)
	primalArgs = append(primalArgs,
		"-var", "base_image="+base.Image,
		"-var", "ssh_private_key_file="+base.KeyPath,
		"-var", "ssh_username="+base.User,
		"-var", "output_directory="+primalDir,
		"-var", "accelerator="+accelFor(arch),
		"-var", "serial_log="+primalSerial,
		"-var", "node_version="+nodemirror.Node22,
		"-var", "node_mirror="+mirror.URLFor("10.0.2.2"),
		"-var", `node_release_keys=["`+mirror.Key.PublicKey+`"]`,
		"-var", "ca_certificates="+hostCAs(t),
		"-var", "package_json="+filepath.Join(app, "package.json"),
		"-var", "npm_registry="+tokenReg.GuestURL, "-var", "npm_token="+tokenReg.Token,
		localPrimalTemplate)
	ph.run("packer validate (primal, carnivore)", func() {
		if out, err := runPacker(t, append([]string{"validate"}, primalArgs[1:]...)...); err != nil {
			t.Fatalf("packer validate %s: %v\n%s", localPrimalTemplate, err, out)
		}
		if out, err := runPacker(t, append(append([]string{"validate"}, archVars...), "-var", "primal_image=/nonexistent/primal.qcow2",
			"-var", "ssh_private_key_file="+base.KeyPath, "-var", "output_directory="+filepath.Join(work, "unused"),
			localCarnivoreTemplate)...); err != nil {
			t.Fatalf("packer validate %s: %v\n%s", localCarnivoreTemplate, err, out)
		}
	})
	var out string
	ph.run("packer build (qemu, node-primal)", func() {
		var err error
		if out, err = runPacker(t, primalArgs...); err != nil {
			t.Fatalf("primal build failed: %v\nbuild VM serial console (last lines):\n%s", err, vm.Tail(primalSerial, 60))
		}
	})
	for _, want := range []string{
		"made the system account node (home /home/node)",
		"persist kernel settings in /etc/sysctl.d/60-node-primal.conf: done in",
		`node-primal: node_version "` + nodemirror.Node22 + `" is v` + nodemirror.Node22,
		"install Node.js v" + nodemirror.Node22 + " (" + platform + ", from ",
		"verified against SHASUMS256.txt",
		"Gracefully halting virtual machine...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("primal build output lacks %q", want)
		}
	}
	primal := filepath.Join(primalDir, "primal.qcow2")
	expectBacking(t, primal, base.Image)
	checkTokenNotOnDisk(t, ph, out, primal, tokenReg, filepath.Join(app, "package-lock.json"))

	// 2. A fresh boot of the primal image, stopped before the next build.
	ph.run("fresh boot of the primal image", func() {
		m := boot(primal)
		checkPrimalVM(t, m, nodemirror.Node22)
		checkArch(t, m, arch, nodeArch)
		checkTokenNotInFiles(t, m, tokenReg.Token, filepath.Join(app, "package-lock.json"))
		if native {
			checkNativeAddon(t, m, "/home/node/app/precache", nodeArch)
		}
		// The precache of the app's dependencies, for its lockfile.
		lockSHA := sha256File(t, filepath.Join(app, "package-lock.json"))
		out, err := m.Run("cat " + precache.ManifestPath)
		if err != nil {
			t.Fatalf("the primal image has no manifest: %v", err)
		}
		if man, err := precache.ParseManifest([]byte(out)); err != nil || man.Precache == nil || man.Precache.LockfileSHA256 != lockSHA {
			t.Errorf("the manifest does not record the app's lockfile sha256 %s: %s %v", lockSHA, out, err)
		}
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// 3. The carnivore image on it. A precache hit sends the registry no
	// request: the guest is given a counting stand-in on the host.
	registry, requests := countingRegistry(t, "127.0.0.1")
	registry = strings.Replace(registry, "127.0.0.1", "10.0.2.2", 1)
	carnivoreDir := filepath.Join(work, "carnivore")
	carnivoreSerial := filepath.Join(work, "carnivore-build-serial.log")
	ph.run("packer build (qemu, node-carnivore)", func() {
		var err error
		out, err = runPacker(t, append(append([]string{"build"}, archVars...),
			"-var", "primal_image="+primal,
			"-var", "ssh_private_key_file="+base.KeyPath,
			"-var", "ssh_username="+base.User,
			"-var", "output_directory="+carnivoreDir,
			"-var", "accelerator="+accelFor(arch),
			"-var", "serial_log="+carnivoreSerial,
			"-var", "npm_registry="+registry,
			"-var", "source_dir="+app,
			localCarnivoreTemplate)...)
		if err != nil {
			t.Fatalf("carnivore build failed: %v\nbuild VM serial console (last lines):\n%s", err, vm.Tail(carnivoreSerial, 60))
		}
	})
	for _, want := range []string{
		"precache hit: package-lock.json (sha256 ",
		"health check http://127.0.0.1:80/healthz",
		"Gracefully halting virtual machine...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("carnivore build output lacks %q", want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry got %d requests during a precache hit; want 0", n)
	}
	checkSecretsNotShown(t, out)
	carnivore := filepath.Join(carnivoreDir, "carnivore.qcow2")
	expectBacking(t, carnivore, primal)

	// 4. A fresh boot of the app image, its port 80 forwarded to the host's
	// loopback.
	var m *vm.VM
	ph.run("fresh boot of the carnivore image", func() { m = boot(carnivore, 80) })
	ph.run("checks on the booted carnivore image", func() {
		checkCarnivoreVM(t, m)
		checkArch(t, m, arch, nodeArch)
		if native {
			checkNativeAddon(t, m, "/home/node/app/server", nodeArch)
		}
	})
}

// accelFor is the QEMU accelerator for a guest of arch: arm64 guests are
// emulated on this x86-64 host whatever KVM can do.
func accelFor(arch string) string {
	if arch == vm.ARM64 {
		return "tcg"
	}
	return vm.Accelerator()
}

// checkArch checks that the booted image is of arch (uname -m) and that
// its Node.js is that architecture's build (process.arch).
func checkArch(t *testing.T, m *vm.VM, arch, nodeArch string) {
	t.Helper()
	machine := map[string]string{vm.AMD64: "x86_64", vm.ARM64: "aarch64"}[arch]
	for cmd, want := range map[string]string{
		"uname -m": machine,
		"env -i /usr/local/bin/node -p process.arch": nodeArch,
	} {
		got, err := m.Run(cmd)
		if err != nil || strings.TrimSpace(got) != want {
			t.Errorf("%s = %q, %v; want %q", cmd, strings.TrimSpace(got), err, want)
		} else {
			t.Logf("%s: %s", cmd, want)
		}
	}
}

// expectBacking checks an image's backing file and logs its size.
func expectBacking(t *testing.T, image, backing string) {
	t.Helper()
	info, err := vm.Info(image)
	if err != nil {
		t.Fatal(err)
	}
	if info.BackingFilename != backing {
		t.Errorf("%s has backing file %q; want %s", image, info.BackingFilename, backing)
	}
	t.Logf("%s: %.0f MiB on disk over %s", image, float64(info.ActualSize)/(1<<20), filepath.Base(backing))
}

// checkCarnivoreVM checks, on a fresh boot of the app image, what
// node-carnivore promises: the service up from boot, the app and its static
// files through port 80 (in the guest and from the host), the secrets file.
func checkCarnivoreVM(t *testing.T, m *vm.VM) {
	t.Helper()
	if m.State != "running" {
		t.Errorf("systemctl is-system-running = %q; want running", m.State)
	}
	if got, err := m.Run("test $(cut -d. -f1 /proc/uptime) -lt 900 && echo fresh"); err != nil || strings.TrimSpace(got) != "fresh" {
		t.Errorf("the carnivore image's VM has been up 15 minutes or more: not a fresh boot (%q, %v)", strings.TrimSpace(got), err)
	}
	checkAppVM(t, m)
}

// checkAppVM checks the baked app on a VM: its service, nginx serving it and
// its static files through port 80 (in the guest, and from the host through
// the forward of the guest's port 80), the secrets file.
func checkAppVM(t *testing.T, m *vm.VM) {
	t.Helper()
	expect := func(cmd, want string) {
		t.Helper()
		got, err := m.Run(cmd)
		if err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, got)
			return
		}
		if strings.TrimSpace(got) != want {
			t.Errorf("%s = %q; want %q", cmd, strings.TrimSpace(got), want)
		}
	}
	expect("systemctl is-enabled example-production", "enabled")
	expect("systemctl is-active example-production", "active")
	expect("systemctl show -p User,NoNewPrivileges --value example-production | tr '\\n' ' '", "node yes")
	expect("systemctl is-active nginx", "active")
	expect("curl -s http://127.0.0.1:80/ | cut -d, -f1", "hello from example-app (NODE_ENV=production")
	expect("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/healthz", "200")
	expect("curl -s http://127.0.0.1:80/hello.txt", "a static file, served by nginx")
	expect("stat -c '%a %U' /home/node/app/server/.env.json", "600 node")
	expect("find /home/node/app/server/ ! -user node | wc -l", "0")

	// From the host: 127.0.0.1:PORT is forwarded to the guest's port 80,
	// which the image's redirect sends to nginx, which proxies to the app.
	port := m.Ports[80]
	for _, c := range []struct{ path, want string }{
		{"/", "hello from example-app (NODE_ENV=production"},
		{"/hello.txt", "a static file, served by nginx"},
	} {
		url := "http://127.0.0.1:" + strconv.Itoa(port) + c.path
		body, code, err := httpGet(url)
		if err != nil || code != 200 || !strings.HasPrefix(body, c.want) {
			t.Errorf("GET %s (the guest's port 80) from the host = %d %q, %v; want 200 %q...", url, code, body, err, c.want)
			continue
		}
		t.Logf("from the host, GET %s (guest port 80): %d %s", url, code, strings.TrimSpace(body))
	}
}

func httpGet(url string) (string, int, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}
