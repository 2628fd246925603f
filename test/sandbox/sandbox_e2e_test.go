//go:build e2e

package sandbox_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

// TestTargets boots two targets side by side, checks what provisioners rely
// on (systemd, SSH as root and admin, egress only through the proxy), and
// that destroying them leaves the host as it was.
//
//	go test -tags e2e -count=1 -v ./test/sandbox/
func TestTargets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sandbox: needs root")
	}
	before := hostState(t)
	var targets []*sandbox.Target

	t.Run("side-by-side", func(t *testing.T) {
		a := sandbox.New(t)
		b := sandbox.New(t)
		targets = []*sandbox.Target{a, b}
		if a.IP == b.IP || a.NetNS == b.NetNS || a.HostVeth == b.HostVeth {
			t.Fatalf("targets share an address or namespace: %+v %+v", a, b)
		}
		registry := npmRegistry(t)

		for _, tc := range []struct{ tg, other *sandbox.Target }{{a, b}, {b, a}} {
			tg := tc.tg
			t.Run(tg.Name, func(t *testing.T) {
				// The boot is over (create waits for it), and nothing failed.
				if got := strings.TrimSpace(tg.MustRun(t, "systemctl is-system-running --wait")); got != "running" {
					t.Errorf("is-system-running = %q, want running; failed units:\n%s",
						got, tg.MustRun(t, "systemctl --failed --no-legend"))
				}
				if got := strings.TrimSpace(tg.MustRun(t, "hostname")); got != tg.Name {
					t.Errorf("hostname = %q, want %q", got, tg.Name)
				}

				// The instance user of a cloud image: admin, passwordless sudo.
				out, err := tg.RunAs(sandbox.AdminUser, "id -un && sudo -n id -u")
				if err != nil || out != sandbox.AdminUser+"\n0\n" {
					t.Errorf("admin with sudo: got %q, %v", out, err)
				}

				// SSH sessions get the proxy and the CA settings.
				env := tg.MustRun(t, "env")
				for _, want := range []string{
					"https_proxy=" + tg.ProxyURL,
					"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
					"npm_config_cafile=/etc/ssl/certs/ca-certificates.crt",
				} {
					if !slices.Contains(strings.Split(env, "\n"), want) {
						t.Errorf("session environment lacks %s", want)
					}
				}

				// No route out: direct connections fail at once, whether to
				// the other target or to an allowed registry.
				if out := tg.MustRun(t, "ip route show default"); strings.TrimSpace(out) != "" {
					t.Errorf("target has a default route: %s", out)
				}
				if out, err := tg.Run("curl --noproxy '*' -sS -m 5 -o /dev/null http://" + tc.other.IP + "/"); err == nil {
					t.Errorf("direct connection to the other target %s succeeded: %s", tc.other.IP, out)
				}
				if registry != "" {
					if out, err := tg.Run("curl --noproxy '*' -sS -m 5 -o /dev/null " + registry); err == nil {
						t.Errorf("direct connection to the npm registry succeeded: %s", out)
					}
				}

				// Through the proxy: only the allowed hosts.
				if got := tg.MustRun(t, "curl -sS -m 10 -o /dev/null -w '%{http_code}' http://not-allowed.invalid/"); got != "403" {
					t.Errorf("proxy answered %s for a host not allowed, want 403", got)
				}
				if out, err := tg.Run("curl -sS -m 10 -o /dev/null https://not-allowed.invalid/"); err == nil {
					t.Errorf("https to a host not allowed succeeded: %s", out)
				}
				tg.MustRun(t, "apt-get update -q")
				if registry != "" { // https through the proxy, trusting the host's CAs
					if got := tg.MustRun(t, "curl -sS -m 30 -o /dev/null -w '%{http_code}' "+registry); got != "200" {
						t.Errorf("npm registry via the proxy: HTTP %s, want 200", got)
					}
				}
			})
		}

		// Destroying one target leaves the other running.
		if err := a.Destroy(); err != nil {
			t.Fatal(err)
		}
		checkGone(t, a)
		b.MustRun(t, "true")
	}) // b is destroyed here, by the subtest's cleanup

	for _, tg := range targets {
		checkGone(t, tg)
	}
	after := hostState(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("host %s changed:\nbefore:\n%s\nafter:\n%s", k, v, after[k])
		}
	}
}

// npmRegistry is the host's npm registry URL, or "" without npm.
func npmRegistry(t *testing.T) string {
	out, err := exec.Command("npm", "config", "get", "registry").Output()
	reg := strings.TrimSpace(string(out))
	if err != nil || reg == "" {
		t.Logf("no npm on the host (%v): skipping the npm registry checks", err)
		return ""
	}
	if _, err := url.Parse(reg); err != nil {
		t.Fatalf("npm registry %q: %v", reg, err)
	}
	return reg
}

// checkGone checks that nothing of a destroyed target is left on the host.
func checkGone(t *testing.T, tg *sandbox.Target) {
	t.Helper()
	for _, line := range strings.Split(run(t, "ip", "netns", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == tg.NetNS {
			t.Errorf("netns %s still exists", tg.NetNS)
		}
	}
	if err := exec.Command("ip", "link", "show", tg.HostVeth).Run(); err == nil {
		t.Errorf("veth %s still exists", tg.HostVeth)
	}
	if _, err := os.Stat(tg.StateDir); !os.IsNotExist(err) {
		t.Errorf("state dir %s still exists (%v)", tg.StateDir, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), tg.StateDir) {
		t.Errorf("mounts remain under %s", tg.StateDir)
	}
	// No process runs from the target's files any more.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), tg.StateDir) {
			t.Errorf("process %s still runs: %q", filepath.Dir(p), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

// hostState captures what the sandbox must never change on the host:
// forwarding sysctls, firewall rules, and the host's links and routes
// (other than those of sandbox targets, which other tests may be running).
func hostState(t *testing.T) map[string]string {
	t.Helper()
	s := map[string]string{
		"net.ipv4.ip_forward":          readFile(t, "/proc/sys/net/ipv4/ip_forward"),
		"net.ipv6.conf.all.forwarding": readFile(t, "/proc/sys/net/ipv6/conf/all/forwarding"),
		"nft list ruleset":             nftRuleset(t),
		"links":                        withoutSandbox(run(t, "ip", "-o", "link", "show")),
		"routes":                       withoutSandbox(run(t, "ip", "route", "show", "table", "all")),
		"routes6":                      withoutSandbox(run(t, "ip", "-6", "route", "show", "table", "all")),
		"rules":                        run(t, "ip", "rule", "show"),
	}
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		if _, err := exec.LookPath(cmd); err == nil {
			s[cmd] = withoutComments(run(t, cmd))
		} else {
			t.Logf("no %s on the host: comparing nft list ruleset only", cmd)
		}
	}
	return s
}

// nftRuleset lists the host's whole nftables ruleset (which includes rules
// made by iptables-nft). Without nft on the host, nft is unpacked from
// Debian's packages into a temporary directory, not installed.
func nftRuleset(t *testing.T) string {
	t.Helper()
	nft, env := "nft", os.Environ()
	if _, err := exec.LookPath("nft"); err != nil {
		dir := filepath.Join(os.TempDir(), "sandbox-e2e-nft")
		nft = filepath.Join(dir, "root/usr/sbin/nft")
		if _, err := os.Stat(nft); err != nil {
			os.RemoveAll(dir)
			if err := os.MkdirAll(filepath.Join(dir, "debs"), 0o755); err != nil {
				t.Fatal(err)
			}
			dl := exec.Command("apt-get", "download", "-q", "nftables", "libnftables1", "libnftnl11")
			dl.Dir = filepath.Join(dir, "debs")
			if out, err := dl.CombinedOutput(); err != nil {
				t.Fatalf("apt-get download nftables: %v\n%s", err, out)
			}
			debs, _ := filepath.Glob(filepath.Join(dir, "debs", "*.deb"))
			for _, deb := range debs {
				if out, err := exec.Command("dpkg", "-x", deb, filepath.Join(dir, "root")).CombinedOutput(); err != nil {
					t.Fatalf("dpkg -x %s: %v\n%s", deb, err, out)
				}
			}
		}
		libs, _ := filepath.Glob(filepath.Join(dir, "root/usr/lib/*-linux-gnu"))
		env = append(env, "LD_LIBRARY_PATH="+strings.Join(libs, ":"))
	}
	c := exec.Command(nft, "list", "ruleset")
	c.Env = env
	out, err := c.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "error while loading shared libraries") {
			t.Fatalf("nft list ruleset: %v\n%s", err, out)
		}
		// E.g. a kernel without nf_tables: its answer is the state to compare.
		t.Logf("nft list ruleset: %v\n%s", err, out)
		return fmt.Sprintf("%s(%v)", out, err)
	}
	return string(out)
}

var sandboxLine = regexp.MustCompile(`(?m)^.*pnsbx.*\n?`)

func withoutSandbox(s string) string { return sandboxLine.ReplaceAllString(s, "") }

var commentLine = regexp.MustCompile(`(?m)^#.*\n?`)

// withoutComments drops iptables-save's comment lines, which carry the time.
func withoutComments(s string) string { return commentLine.ReplaceAllString(s, "") }

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
