//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

const primalTemplate = "example/sandbox/primal.pkr.hcl"

// TestPrimalOnSandbox runs node-primal for real against a booted Debian
// (systemd as PID 1) as the non-root user admin, checks the machine, runs
// the same build again and checks that nothing changed or was duplicated,
// then runs it a third time while another process holds the dpkg lock.
func TestPrimalOnSandbox(t *testing.T) {
	ph := newPhases(t)
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	args := []string{"build", "-var", "host=" + tgt.IP, "-var", "ssh_username=admin",
		"-var", "ssh_private_key_file=" + tgt.KeyPath, primalTemplate}

	var out string
	ph.run("first packer build", func() {
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("first packer build failed: %v", err)
		}
	})
	for _, want := range []string{
		`instance_user defaults to the communicator's user "admin"`,
		"node-primal: [1/7] wait for the dpkg lock",
		"node-primal: [7/7] persist kernel settings in /etc/sysctl.d/60-node-primal.conf: done in",
		"node-primal: 7 steps done in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q", want)
		}
	}
	ph.run("check the target", func() { checkPrimal(t, tgt) })
	before := tgt.MustRun(t, snapshot)

	ph.run("second packer build (rerun)", func() {
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("second packer build failed: %v", err)
		}
	})
	if !strings.Contains(out, "already installed: git make g++ graphicsmagick curl") {
		t.Errorf("the rerun did not find the base packages already installed")
	}
	ph.run("check the target again", func() { checkPrimal(t, tgt) })
	if after := tgt.MustRun(t, snapshot); after != before {
		t.Errorf("the rerun changed the machine:\n--- before\n%s\n--- after\n%s", before, after)
	}

	// Cloud images hold the dpkg lock at first boot: the build must wait.
	ph.run("third packer build, dpkg lock held for 12s", func() {
		tgt.MustRun(t, holdDpkgLock)
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("packer build with the dpkg lock held failed: %v", err)
		}
	})
	for _, want := range []string{"waiting for the dpkg lock (/var/lib/dpkg/lock-frontend)", "dpkg lock is free"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q: the lock was not waited for", want)
		}
	}
	if after := tgt.MustRun(t, snapshot); after != before {
		t.Errorf("the third run changed the machine:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// checkPrimal checks, on the target, what node-primal promises.
func checkPrimal(t *testing.T, tgt *sandbox.Target) {
	t.Helper()
	expect := func(cmd, want string) {
		t.Helper()
		got, err := tgt.Run(cmd)
		if err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, got)
			return
		}
		if strings.TrimSpace(got) != want {
			t.Errorf("%s = %q; want %q", cmd, strings.TrimSpace(got), want)
		}
	}
	for _, p := range []string{"git", "make", "g++", "graphicsmagick", "curl", "nginx"} {
		expect("dpkg-query -W -f '${Status}' "+p, "install ok installed")
	}
	expect("systemctl is-enabled nginx", "enabled")
	expect("systemctl is-active nginx", "active")
	expect("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/", "200")
	expect("grep -c '^net.ipv4.tcp_slow_start_after_idle = 0$' /etc/sysctl.d/60-node-primal.conf", "1")
	expect("sysctl -n net.ipv4.tcp_slow_start_after_idle", "0")
	expect("stat -c %U /var/log/nginx", "admin")
	expect("find /var/log/nginx -type f ! -user admin | wc -l", "0")
	expect("ls -d /tmp/packer-node.* 2>/dev/null | wc -l", "0")
}

// snapshot is the state a rerun must leave exactly as it was: which files
// exist, what they hold, owners, enabled units, installed packages.
const snapshot = `set -e
ls -1 /etc/sysctl.d /etc/nginx/sites-enabled /tmp
sha256sum /etc/sysctl.d/60-node-primal.conf
sort /etc/sysctl.d/60-node-primal.conf | uniq -d
find /etc/systemd/system /etc/rc*.d -name '*nginx*' | sort
stat -c '%n %U %G %a' /var/log/nginx /var/log/nginx/*
dpkg-query -W -f '${Package} ${Version} ${Status}\n' | sha256sum
ls -1 /var/lib/dpkg/updates
`

// holdDpkgLock takes dpkg's fcntl lock the way dpkg itself does, from a
// transient service that lets go after 12 seconds.
const holdDpkgLock = `systemd-run --unit=hold-dpkg-lock --collect perl -MFcntl -e '
open(my $f, ">>", "/var/lib/dpkg/lock-frontend") or die "open: $!";
my $lock = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);  # struct flock, x86_64
fcntl($f, F_SETLKW, $lock) or die "lock: $!";
sleep 12;'
id=$(printf '%02x:%02x:%s' $(stat -c '%Hd %Ld %i' /var/lib/dpkg/lock-frontend))
for i in $(seq 50); do
  grep -q " $id " /proc/locks && exit 0
  sleep 0.1
done
echo "the lock holder did not take the lock" >&2
exit 1
`
