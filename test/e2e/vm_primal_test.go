//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/vm"
)

const localPrimalTemplate = "example/local/primal.pkr.hcl"

// TestVMPrimal builds a real VM image with node-primal: the QEMU builder
// boots the Debian base image, node-primal provisions it over SSH as admin
// (Node.js from a local mirror the guest reaches on the host's loopback),
// the VM shuts down. Then the test boots the image it got in a VM of its own
// and checks that what node-primal set up survives that reboot: nginx
// enabled and serving, the kernel setting applied again from /etc/sysctl.d
// at boot, the port redirect loaded again at boot, the log directory's
// owner, Node.js.
func TestVMPrimal(t *testing.T) {
	if testing.Short() {
		t.Skip("VM image build: minutes under CPU emulation")
	}
	ph := newPhases(t)
	// `make e2e` exports these; a plain `go test` gets the same defaults.
	if os.Getenv("PACKER_PLUGIN_PATH") == "" {
		t.Setenv("PACKER_PLUGIN_PATH", filepath.Join(repoRoot(t), ".packer.d", "plugins"))
	}
	// Packer keeps download locks in its cache, ./packer_cache by default.
	t.Setenv("PACKER_CACHE_DIR", t.TempDir())

	var base vm.Base
	ph.run("base image (build or reuse)", func() { base = vm.BaseImage(t) })
	ph.run("qemu builder plugin (make qemu-plugin)", func() { installQemuPlugin(t) })
	var mirrorDir string
	ph.run("Node.js mirror (build or reuse)", func() { mirrorDir = nodemirror.Build(t, nodemirror.Node22) })
	// On the host's loopback; QEMU's user networking shows it to the guest
	// as 10.0.2.2.
	mirror := nodemirror.Serve(t, mirrorDir, "127.0.0.1:0")

	work := t.TempDir()
	outDir := filepath.Join(work, "out")
	serialLog := filepath.Join(work, "build-serial.log")
	args := []string{"build",
		"-var", "base_image=" + base.Image,
		"-var", "ssh_private_key_file=" + base.KeyPath,
		"-var", "ssh_username=" + base.User,
		"-var", "output_directory=" + outDir,
		"-var", "accelerator=" + vm.Accelerator(),
		"-var", "serial_log=" + serialLog,
		"-var", "node_version=" + nodemirror.Node22,
		"-var", "node_mirror=" + mirror.URLFor("10.0.2.2"),
		localPrimalTemplate}
	ph.run("packer validate", func() {
		if out, err := runPacker(t, append([]string{"validate"}, args[1:]...)...); err != nil {
			t.Fatalf("packer validate %s: %v\n%s", localPrimalTemplate, err, out)
		}
	})
	var out string
	ph.run("packer build (qemu, node-primal)", func() {
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("packer build failed: %v\nbuild VM serial console (last lines):\n%s", err, vm.Tail(serialLog, 60))
		}
	})
	for _, want := range []string{
		`instance_user defaults to the communicator's user "admin"`,
		"persist kernel settings in /etc/sysctl.d/60-node-primal.conf: done in",
		`node-primal: node_version "` + nodemirror.Node22 + `" is v` + nodemirror.Node22,
		"verified against SHASUMS256.txt",
		"Gracefully halting virtual machine...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q", want)
		}
	}

	image := filepath.Join(outDir, "primal.qcow2")
	info, err := vm.Info(image)
	if err != nil {
		t.Fatal(err)
	}
	if info.BackingFilename != base.Image {
		t.Errorf("%s has backing file %q; want the base image %s", image, info.BackingFilename, base.Image)
	}
	t.Logf("primal image: %s, %.0f MiB on disk over the base image", image, float64(info.ActualSize)/(1<<20))

	var m *vm.VM
	ph.run("fresh boot of the built image", func() {
		m = vm.Boot(t, vm.Config{Image: image, KeyPath: base.KeyPath, User: base.User})
	})
	ph.run("checks on the booted image", func() { checkPrimalVM(t, m, nodemirror.Node22) })
}

// checkPrimalVM checks, on a fresh boot of the built image, what node-primal
// promises to persist.
func checkPrimalVM(t *testing.T, m *vm.VM, node string) {
	t.Helper()
	if m.State != "running" {
		t.Errorf("systemctl is-system-running = %q; want running", m.State)
	}
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
	expect("id -un", "admin")
	// A fresh kernel: the settings below come from the image, not from the build.
	expect("test $(cut -d. -f1 /proc/uptime) -lt 900 && echo fresh", "fresh")
	for _, p := range []string{"git", "make", "g++", "graphicsmagick", "curl", "nginx"} {
		expect("dpkg-query -W -f '${Status}' "+p, "install ok installed")
	}
	expect("systemctl is-enabled nginx", "enabled")
	expect("systemctl is-active nginx", "active")
	expect("test -f /etc/sysctl.d/60-node-primal.conf && echo present", "present")
	expect("grep -c '^net.ipv4.tcp_slow_start_after_idle = 0$' /etc/sysctl.d/60-node-primal.conf", "1")
	expect("/usr/sbin/sysctl -n net.ipv4.tcp_slow_start_after_idle", "0")
	expect("stat -c %U /var/log/nginx", "admin")
	expect("sudo -n find /var/log/nginx -type f ! -user admin | wc -l", "0")
	expect("ls -d /tmp/packer-node.* /run/node-primal/npmrc 2>/dev/null | wc -l", "0")
	expect("env -i /bin/sh -c 'node --version'", "v"+node)

	// nginx itself, on port 80: over IPv6, which the redirect (an ip table)
	// leaves alone.
	expect("curl -s -o /dev/null -w '%{http_code}' 'http://[::1]/'", "200")
	// The redirect of port 80 to 8080, loaded again at boot: a listener on
	// 8080 answers http://127.0.0.1/.
	expect("systemctl is-enabled nftables", "enabled")
	expect("sudo -n nft list table ip node_primal | grep -c 'tcp dport 80 redirect to :8080'", "2")
	m.MustRun(t, `sudo -n systemd-run --quiet --unit=e2e-listener --uid=admin /usr/local/bin/node -e '
require("http").createServer((q, s) => s.end("through the redirect\n")).listen(8080, "0.0.0.0")'
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8080/ && exit 0; sleep 0.2; done; exit 1`)
	expect("curl -s -w ' %{http_code}' http://127.0.0.1/", "through the redirect\n 200")
}

// installQemuPlugin builds packer-plugin-qemu (once; later calls find it
// built) and installs it where PACKER_PLUGIN_PATH points.
func installQemuPlugin(t *testing.T) {
	t.Helper()
	pp := os.Getenv("PACKER_PLUGIN_PATH")
	cmd := exec.Command("make", "--no-print-directory", "qemu-plugin", "PACKER_PLUGIN_PATH="+pp)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	t.Logf("make qemu-plugin:\n%s", out)
	if err != nil {
		t.Fatalf("make qemu-plugin: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(pp, "github.com", "hashicorp", "qemu", "packer-plugin-qemu_*")); len(m) == 0 {
		t.Fatalf("no packer-plugin-qemu under PACKER_PLUGIN_PATH=%s after make qemu-plugin", pp)
	}
}
