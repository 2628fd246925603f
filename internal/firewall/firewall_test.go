package firewall

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

// TestRedirectGolden renders the redirect for each backend; regenerate with
// go test ./internal/firewall -update.
func TestRedirectGolden(t *testing.T) {
	for _, c := range []struct {
		name     string
		backend  string
		from, to int
		files    int // nftables uploads its table, iptables saves its rules
	}{
		{"redirect-nftables", "nftables", 80, 8080, 1},
		{"redirect-iptables", "iptables", 80, 8080, 0},
		{"redirect-nftables-443", "nftables", 443, 8443, 1},
		{"redirect-ufw", "ufw", 80, 8080, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Redirect(c.backend, c.from, c.to)
			golden.Steps(t, c.name, s)
			if len(s.Files) != c.files {
				t.Fatalf("%d files uploaded; want %d", len(s.Files), c.files)
			}
			if c.files == 1 && (s.Files[0].Path != NftFile || !strings.Contains(s.Script, "nft -f "+NftFile)) {
				t.Errorf("the table is uploaded to %s and the script must load that file", s.Files[0].Path)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		backend, iptables string
		ufw               bool
		want, err         string
	}{
		{"auto", "iptables v1.8.9 (legacy)", false, "iptables", ""},
		{"auto", "iptables v1.8.7 (legacy)", false, "iptables", ""},
		{"auto", "iptables v1.8.9 (nf_tables)", false, "nftables", ""},
		{"auto", "", false, "nftables", ""}, // no iptables at all
		{"nftables", "iptables v1.8.9 (legacy)", false, "nftables", ""},
		{"nftables", "", false, "nftables", ""},
		{"iptables", "iptables v1.8.9 (nf_tables)", false, "iptables", ""},
		{"iptables", "", false, "iptables", ""},
		{"auto", "iptables v1.8.10 (nf_tables)", true, "ufw", ""},
		{"auto", "iptables v1.8.7 (legacy)", true, "ufw", ""},
		{"ufw", "", true, "ufw", ""},
		{"nftables", "", true, "", `"nftables" cannot hold the redirect while ufw is enabled on this machine (nftables.service's flush ruleset at boot would wipe ufw's rules)`},
		{"iptables", "", true, "", `"iptables" cannot hold the redirect while ufw is enabled on this machine (iptables-persistent conflicts with ufw and would remove it)`},
		{"ufw", "", false, "", `"ufw" needs ufw enabled on the machine`},
	} {
		got, err := Resolve(c.backend, c.iptables, c.ufw)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Resolve(%q, %q, %v) = %q, %v; want %q, %q", c.backend, c.iptables, c.ufw, got, err, c.want, c.err)
		}
	}
}

// TestUfwBlockReplaced runs the ufw step here, on a copy of Ubuntu's
// before.rules, with ufw and iptables stubbed: our block goes at the top,
// a rerun replaces it (one copy, new ports), and every other line of the
// file is kept as it was.
func TestUfwBlockReplaced(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "before.rules")
	orig := "#\n# rules.before\n#\n*filter\n:ufw-before-input - [0:0]\n-A ufw-before-input -i lo -j ACCEPT\nCOMMIT\n"
	os.WriteFile(rules, []byte(orig), 0o640)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	for _, stub := range []string{"ufw", "iptables"} {
		os.WriteFile(filepath.Join(bin, stub), []byte("#!/bin/sh\necho \"$0 $*\" >> "+filepath.Join(dir, "calls")+"\nprintf -- '--to-ports 8080\\n--to-ports 8081\\n'\n"), 0o755)
	}
	for _, to := range []int{8080, 8081} {
		script := strings.ReplaceAll(Redirect("ufw", 80, to).Script, "/etc/ufw/before.rules", rules)
		cmd := exec.Command("/bin/sh", "-eu", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ufw step to %d: %v\n%s", to, err, out)
		}
	}
	b, _ := os.ReadFile(rules)
	got := string(b)
	if strings.Count(got, "# BEGIN node-primal redirect") != 1 || strings.Count(got, "*nat") != 1 {
		t.Errorf("the block is not there exactly once:\n%s", got)
	}
	if !strings.Contains(got, "--dport 80 -j REDIRECT --to-ports 8081") || strings.Contains(got, "--to-ports 8080") {
		t.Errorf("the rerun did not replace the block:\n%s", got)
	}
	if !strings.HasSuffix(got, "# END node-primal redirect\n"+orig) {
		t.Errorf("the rest of before.rules changed:\n%s", got)
	}
	if fi, _ := os.Stat(rules); fi.Mode().Perm() != 0o640 {
		t.Errorf("before.rules mode %o; want it kept (640)", fi.Mode().Perm())
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if !strings.Contains(string(calls), "ufw allow 8081/tcp") || !strings.Contains(string(calls), "ufw reload") {
		t.Errorf("ufw was not told to let the port in and reload:\n%s", calls)
	}
}
