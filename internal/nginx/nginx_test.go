package nginx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/plan"
)

var site = Site{
	Name: "ponyfoo-production", User: "www-data", Workers: "2",
	ServerNames: []string{"ponyfoo.com", "www.ponyfoo.com"},
	StaticRoot:  "/home/admin/app/server/public", AppPort: 3000, NginxPort: 8080, PublicPort: 80,
}

// render fills the embedded template name with site.
func render(t *testing.T, name string) []byte {
	t.Helper()
	b, err := DefaultTemplate(name).Render(site)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStepsGolden renders every step of the package; regenerate with
// go test ./internal/nginx -update.
func TestStepsGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		step plan.Step
	}{
		{"enable", EnableAtBoot()},
		{"protect-logs", ProtectLogs()},
		{"configure", Configure(site.Name, render(t, "nginx.conf"), render(t, "site.conf"))},
	} {
		t.Run(c.name, func(t *testing.T) { golden.Steps(t, c.name, c.step) })
	}
}

// TestConfigureStagesNextToTarget checks that the files land where the
// script moves them from, so nginx -t judges the new files.
func TestConfigureStagesNextToTarget(t *testing.T) {
	s := Configure(site.Name, []byte("main"), []byte("site"))
	want := []string{MainConf + ".node-new", SitesAvailable + "/ponyfoo-production.conf.node-new"}
	if len(s.Files) != len(want) {
		t.Fatalf("%d files uploaded; want %d", len(s.Files), len(want))
	}
	for i, f := range s.Files {
		if f.Path != want[i] {
			t.Errorf("file %d at %s; want %s", i, f.Path, want[i])
		}
	}
	if !strings.Contains(s.Script, `mv -f "$main.node-new" "$main"`) || !strings.Contains(s.Script, `mv -f "$site.node-new" "$site"`) {
		t.Errorf("the script does not move the staged files into place")
	}
}

// TestTemplatesGolden renders the embedded templates with a site of two
// server names.
func TestTemplatesGolden(t *testing.T) {
	for _, name := range []string{"nginx.conf", "site.conf"} {
		t.Run(name, func(t *testing.T) {
			if err := DefaultTemplate(name).Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
			golden.Check(t, name, string(render(t, name)))
		})
	}
}

// TestTemplateCheck loads users' overrides: a field or a function Site does
// not have is refused, naming it, before any machine exists.
func TestTemplateCheck(t *testing.T) {
	for _, c := range []struct {
		name, text, err string // err "" means accepted
	}{
		{"good.conf", "server { listen {{.NginxPort}}; server_name {{join .ServerNames \" \"}}; }\n", ""},
		{"field.conf", "server { listen {{.NoSuchField}}; }\n", "NoSuchField"},
		{"nested.conf", "{{range .ServerNames}}{{.Host}}{{end}}\n", "Host"},
		{"func.conf", "user {{upper .User}};\n", "upper"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name)
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			tpl, err := LoadTemplate(path)
			if err == nil {
				err = tpl.Check()
			}
			switch {
			case c.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.err != "" && err == nil:
				t.Errorf("accepted; want an error naming %s", c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Errorf("error %q does not name %s", err, c.err)
			}
		})
	}
}

// TestProtectLogsUndoesAnAppUsersOwnership runs the step's script for real
// on a log directory an earlier build gave to an unprivileged user: the
// directory and its logs go back to root:adm, so that user can no longer
// swap a log for a symlink (CVE-2016-1247).
func TestProtectLogsUndoesAnAppUsersOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to root:adm needs root; CI runs as root")
	}
	dir := filepath.Join(t.TempDir(), "nginx")
	if err := os.Mkdir(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "error.log")
	if err := os.WriteFile(log, []byte("x\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, log} {
		if out, err := exec.Command("chown", "nobody", p).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	if out, err := exec.Command("/bin/sh", "-c", golden.Prelude+protectLogs(dir).Script).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for p, want := range map[string]string{dir: "root:adm 755", log: "root:adm 640"} {
		out, err := exec.Command("stat", "-c", "%U:%G %a", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s is %s; want %s", p, got, want)
		}
	}
}
