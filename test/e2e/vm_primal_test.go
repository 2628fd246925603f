//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/vm"
)

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
	expect("stat -c '%U:%G %a' /var/log/nginx", "root:adm 755")
	expect("sudo -n find /var/log/nginx -user node | wc -l", "0")
	expect("ls -d /tmp/packer-node.* /dev/shm/packer-node.* /run/node-primal/npmrc 2>/dev/null | wc -l", "0")
	expect("env -i /bin/sh -c 'node --version'", "v"+node)

	// nginx itself, on port 80: over IPv6, which the redirect (an ip table)
	// leaves alone.
	expect("curl -s -o /dev/null -w '%{http_code}' 'http://[::1]/'", "200")
	// The redirect of port 80 to 8080, loaded again at boot: a listener on
	// 8080 answers http://127.0.0.1/.
	expect("systemctl is-enabled nftables", "enabled")
	expect("sudo -n nft list table ip node_primal | grep -c 'tcp dport 80 redirect to :8080'", "2")
	m.MustRun(t, `sudo -n systemd-run --quiet --unit=e2e-listener --uid=node /usr/local/bin/node -e '
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
