package service

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

var app = App{
	Name: "ponyfoo-production", User: "admin", Group: "admin",
	Dir: "/home/admin/app/server", Node: "/usr/local/bin/node", Entrypoint: "app.js",
	Env: []string{"NODE_ENV=production", "PORT=3000", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"},
}

// TestInstallGolden renders the service for each manager; regenerate with
// go test ./internal/service -update. Exactly one file is written, where
// the manager looks for it, and the init script itself must parse.
func TestInstallGolden(t *testing.T) {
	for _, c := range []struct {
		manager, path string
		mode          uint32
		removes       string // the other kind an earlier build may have left
	}{
		{"systemd", UnitPath(app.Name), 0o644, "rm -f /etc/init.d/ponyfoo-production\n"},
		{"sysvinit", InitScriptPath(app.Name), 0o755, "rm -f /etc/systemd/system/ponyfoo-production.service\n"},
	} {
		t.Run(c.manager, func(t *testing.T) {
			s := Install(c.manager, app)
			golden.Steps(t, "install-"+c.manager, s)
			if len(s.Files) != 1 {
				t.Fatalf("%d files uploaded; want exactly 1", len(s.Files))
			}
			if f := s.Files[0]; f.Path != c.path || uint32(f.Mode) != c.mode {
				t.Errorf("file %s mode %04o; want %s mode %04o", f.Path, f.Mode, c.path, c.mode)
			}
			if !strings.Contains(s.Script, c.removes) {
				t.Errorf("the script does not remove the other manager's file (%q)", c.removes)
			}
			if c.manager == "sysvinit" {
				golden.Syntax(t, "init script", string(s.Files[0].Content))
			}
		})
	}
}

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		manager string
		systemd bool
		want    string
	}{
		{"auto", true, "systemd"},
		{"auto", false, "sysvinit"},
		{"systemd", false, "systemd"},
		{"sysvinit", true, "sysvinit"},
	} {
		if got := Resolve(c.manager, c.systemd); got != c.want {
			t.Errorf("Resolve(%q, %v) = %q; want %q", c.manager, c.systemd, got, c.want)
		}
	}
}

// TestHealthGateGolden covers a plain path and one with a query string
// (health_path allows ? = & %), and the timeout's rounding to seconds.
func TestHealthGateGolden(t *testing.T) {
	for _, c := range []struct {
		name, url string
		status    int
		timeout   time.Duration
		seconds   string
	}{
		{"health", "http://127.0.0.1:80/", 200, 2 * time.Minute, "+ 120 ))"},
		{"health-query", "http://127.0.0.1:80/healthz?full=1&x=%20", 204, 1500 * time.Millisecond, "+ 2 ))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := HealthGate(app.Name, c.url, c.status, c.timeout)
			golden.Steps(t, c.name, s)
			if !strings.Contains(s.Script, c.seconds) {
				t.Errorf("the deadline is not %q", c.seconds)
			}
		})
	}
}

// runHealthGate runs the health gate's script for real against url, with a
// PATH that has no curl (only date, sleep and tail), and this machine's node.
func runHealthGate(t *testing.T, url string, status int, timeout time.Duration) (string, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on this machine to run the health gate with")
	}
	bin := t.TempDir()
	for _, tool := range []string{"date", "sleep", "tail"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	script := golden.Prelude + "PATH=" + bin + "\nnode_bin=" + node + "\n" + HealthGate("probe", url, status, timeout).Script
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	return string(out), err
}

// TestHealthGateNeedsNoCurl: the gate asks with node, which every image
// made by node-primal has; an image without curl passes when the app
// answers, and fails naming the last status when it answers otherwise.
func TestHealthGateNeedsNoCurl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	if out, err := runHealthGate(t, srv.URL+"/healthz", 204, 5*time.Second); err != nil || !strings.Contains(out, "answered 204") {
		t.Errorf("a healthy app failed the gate: %v\n%s", err, out)
	}
	out, err := runHealthGate(t, srv.URL+"/broken", 200, time.Second)
	if err == nil || !strings.Contains(out, "did not answer 200 within 1s (last answer: 500)") {
		t.Errorf("an app answering 500 passed or was misreported: %v\n%s", err, out)
	}
}

// TestCheckNameRefusesSystemUnits runs the check on a fake root: a name a
// package's unit has, or a unit someone else wrote, is refused; the
// plugin's own unit of an earlier build is not.
func TestCheckNameRefusesSystemUnits(t *testing.T) {
	root := t.TempDir()
	for path, content := range map[string]string{
		"lib/systemd/system/systemd-journald.service":   "[Unit]\n",
		"etc/systemd/system/billing-production.service": "[Unit]\nDescription=hand-made\n",
		"etc/systemd/system/shop-production.service":    "# Written by packer-plugin-node (node-carnivore).\n[Unit]\n",
		"etc/init.d/legacy-production":                  "#!/bin/sh\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, taken := range map[string]string{
		"systemd-journald":   "taken by the system's",
		"billing-production": "which this plugin did not write",
		"legacy-production":  "which this plugin did not write",
		"shop-production":    "",
		"new-production":     "",
	} {
		out, err := exec.Command("/bin/sh", "-c", golden.Prelude+checkName(name, root).Script).CombinedOutput()
		if taken == "" {
			if err != nil {
				t.Errorf("%s: refused a free name: %v\n%s", name, err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(string(out), taken) || !strings.Contains(string(out), "choose another app_name or environment") {
			t.Errorf("%s: %v\n%s\nwant a refusal saying %q", name, err, out, taken)
		}
	}
	golden.Steps(t, "check-name", CheckName("ponyfoo-production"))
}
