package release

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/npmaudit"
	"github.com/nodebake/packer-plugin-node/internal/precache"
)

var layout = Layout{User: "admin", Group: "admin", AppDir: "/home/admin/app"}

const precacheDir = "/home/admin/app/precache"

func noArchive() io.ReadCloser { return io.NopCloser(strings.NewReader("")) }

// TestUnpackGolden renders the unpack with and without an env file; the
// env file is a secret: uploaded 0600 to the user, and never rendered.
// Regenerate with go test ./internal/release -update.
func TestUnpackGolden(t *testing.T) {
	const secret = `{"DB_PASSWORD":"hunter2-s3cret"}`
	for _, c := range []struct {
		name string
		env  []byte
	}{
		{"unpack", nil},
		{"unpack-env", []byte(secret)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Unpack(layout, "tar.gz of ./app, 3 files", noArchive, c.env)
			golden.Steps(t, c.name, s)
			if s.Stdin == nil || s.Stdin.Describe != "tar.gz of ./app, 3 files" {
				t.Errorf("the archive is not streamed on stdin: %+v", s.Stdin)
			}
			if c.env == nil {
				if len(s.Files) != 0 || strings.Contains(s.Script, ".env.json") {
					t.Errorf("no env file given, yet the step handles one")
				}
				return
			}
			if len(s.Files) != 1 {
				t.Fatalf("%d files uploaded; want the env file only", len(s.Files))
			}
			f := s.Files[0]
			if !f.Sensitive || f.Mode != 0o600 || f.Owner != "admin" || f.Path != "/home/admin/app/.env.json.incoming" {
				t.Errorf("env file %s mode %04o owner %s sensitive %v; want /home/admin/app/.env.json.incoming 0600 admin sensitive",
					f.Path, f.Mode, f.Owner, f.Sensitive)
			}
			if r := s.Render(1); strings.Contains(r, "hunter2") || strings.Contains(r, "DB_PASSWORD") {
				t.Errorf("the rendered step shows the env file's content:\n%s", r)
			}
		})
	}
}

// verdicts are real precache.Check verdicts: the image precached spec.
func verdicts(t *testing.T) (hit, miss, missNoLock precache.Verdict) {
	spec := precache.Spec{
		Dir: precacheDir, PackageJSON: []byte(`{"name":"app"}`),
		LockfileName: "package-lock.json", Lockfile: []byte(`{"lockfileVersion":3}`),
	}
	state := precache.State{
		Manifest:    &precache.Manifest{Format: 1, NodeVersion: "v22.12.0", Precache: spec.Contents()},
		NodeModules: true, NodeVersion: "v22.12.0",
	}
	changed := spec
	changed.Lockfile = []byte(`{"lockfileVersion":3,"packages":{}}`)
	noLock := spec
	noLock.LockfileName, noLock.Lockfile = "", nil
	hit, miss, missNoLock = precache.Check(state, spec.Want()), precache.Check(state, changed.Want()), precache.Check(state, noLock.Want())
	if !hit.Hit || miss.Hit || missNoLock.Hit {
		t.Fatalf("verdicts: %v / %v / %v; want hit / miss / miss", hit, miss, missNoLock)
	}
	return hit, miss, missNoLock
}

func TestDependenciesGolden(t *testing.T) {
	hit, miss, missNoLock := verdicts(t)
	for _, c := range []struct {
		name        string
		v           precache.Verdict
		hasLockfile bool
		audit       string
		want, not   string
		audits      bool
	}{
		{"dependencies-hit", hit, true, npmaudit.Auto, "cp -a " + precacheDir + "/node_modules", "npm_deps", false},
		{"dependencies-miss", miss, true, npmaudit.Auto, "npm_deps ci ", "npm_deps install", true},
		{"dependencies-miss-nolockfile", missNoLock, false, npmaudit.Off, "npm_deps install ", "npm_deps ci", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Dependencies(layout, precacheDir, c.v, c.hasLockfile, c.audit)
			golden.Steps(t, c.name, s)
			if !strings.Contains(s.Script, c.want) || strings.Contains(s.Script, c.not) {
				t.Errorf("the script must run %q and not %q", c.want, c.not)
			}
			// Signatures are verified after an install only, never on a
			// copy from the precache, and not when turned off.
			if got := strings.Contains(s.Script, "npm audit signatures"); got != c.audits {
				t.Errorf("the script runs npm audit signatures: %v; want %v", got, c.audits)
			}
			if hit := strings.HasSuffix(s.Name, "(precache hit)"); hit != c.v.Hit {
				t.Errorf("the step's name %q does not say the verdict (hit = %v)", s.Name, c.v.Hit)
			}
		})
	}
}

func TestSwitchGolden(t *testing.T) {
	golden.Steps(t, "switch", Switch(layout))
	if got := layout.Current(); got != "/home/admin/app/server" {
		t.Errorf("Current() = %s; want /home/admin/app/server", got)
	}
}

// TestUnpackRefusesATerminal: with ssh_pty = true the archive would arrive
// through a terminal and be mangled; the step stops at once, saying why.
// script(1) gives the step's shell a terminal on stdin, as a pty would.
func TestUnpackRefusesATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) from util-linux is needed to give the step a terminal")
	}
	f := filepath.Join(t.TempDir(), "unpack.sh")
	// The app directory is somewhere harmless: the check must come first.
	l := Layout{User: "nobody", Group: "nogroup", AppDir: filepath.Join(t.TempDir(), "app")}
	s := Unpack(l, "test", nil, nil)
	if err := os.WriteFile(f, []byte(golden.Prelude+s.Script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("script", "-qec", "/bin/sh "+f, "/dev/null").CombinedOutput()
	if err == nil {
		t.Fatalf("the step ran with a terminal on stdin:\n%s", out)
	}
	if !strings.Contains(string(out), "standard input is a terminal (is ssh_pty = true") {
		t.Errorf("the failure does not say why:\n%s", out)
	}
	if _, err := os.Stat(l.AppDir); !os.IsNotExist(err) {
		t.Errorf("the step touched %s before refusing", l.AppDir)
	}
}

// TestMissSkipsTheAppsLifecycleScripts runs the miss step for real with
// this machine's npm, as root for the instance user, on an app whose own
// prepare and postinstall fail (as "prepare": "husky" does on an image) and
// whose dependency has an install script: the app's scripts do not run,
// the dependency's does, and package.json is left as it was.
func TestMissSkipsTheAppsLifecycleScripts(t *testing.T) {
	node, err1 := exec.LookPath("node")
	_, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		t.Skip("needs node and npm on this machine, and root (as_user runs runuser)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	dep := filepath.Join(dir, "dep")
	marker := filepath.Join(dir, "dep-install-ran")
	os.MkdirAll(dep, 0o755)
	os.WriteFile(filepath.Join(dep, "package.json"), []byte(`{"name":"dep","version":"1.0.0","scripts":{"install":"echo ran > `+marker+`"}}`), 0o644)
	if out, err := exec.Command("sh", "-c", "cd "+dep+" && npm pack --silent").CombinedOutput(); err != nil {
		t.Fatalf("npm pack: %v\n%s", err, out)
	}
	app := filepath.Join(dir, "app", "releases", "r1")
	os.MkdirAll(app, 0o755)
	pkg := `{"name":"app","version":"1.0.0","scripts":{"prepare":"exit 1","postinstall":"exit 1"},"dependencies":{"dep":"file:` + dep + `/dep-1.0.0.tgz"}}` + "\n"
	os.WriteFile(filepath.Join(app, "package.json"), []byte(pkg), 0o644)
	l := Layout{User: "root", Group: "root", AppDir: filepath.Join(dir, "app")}
	incomingFile = filepath.Join(dir, "incoming-release")
	t.Cleanup(func() { incomingFile = IncomingFile })
	os.WriteFile(l.incoming(), []byte(app+"\n"), 0o644)
	miss := precache.Check(precache.State{}, precache.Want{})
	script := golden.Prelude + "instance_user=root\ninstance_home=" + dir + "\nnode_bin=" + node + "\n" +
		"export npm_config_cache=" + filepath.Join(dir, "npm-cache") + "\n" + Dependencies(l, "/nonexistent", miss, false, npmaudit.Off).Script
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the install failed (did the app's own scripts run?): %v\n%s", err, out)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the dependency's install script did not run:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(app, "package.json")); string(b) != pkg {
		t.Errorf("package.json was not put back:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(app, "node_modules", "dep", "package.json")); err != nil {
		t.Errorf("the dependency is not installed: %v\n%s", err, out)
	}
}

// TestFailedStepsLeaveNoHalfRelease runs the unpack (with an archive cut
// off) and then the dependencies step (whose copy fails) for real, as
// root: each failure removes the release it was making, so a full disk is
// not kept full, and the live release is untouched.
func TestFailedStepsLeaveNoHalfRelease(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the steps install directories for a user with install -o, which needs root; CI runs as root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	incomingFile = filepath.Join(dir, "run", "incoming-release")
	t.Cleanup(func() { incomingFile = IncomingFile })
	l := Layout{User: "root", Group: "root", AppDir: filepath.Join(dir, "app")}
	live := filepath.Join(l.AppDir, "releases", "live")
	os.MkdirAll(live, 0o755)
	os.WriteFile(filepath.Join(live, "app.js"), []byte("// live\n"), 0o644)
	os.Symlink(live, l.Current())
	vars := "instance_user=root\ninstance_home=" + dir + "\nnode_bin=/bin/false\n"
	run := func(s string, stdin io.Reader) (string, error) {
		cmd := exec.Command("/bin/sh", "-c", golden.Prelude+vars+s)
		cmd.Stdin = stdin
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	releases := func() []string {
		names, _ := filepath.Glob(filepath.Join(l.AppDir, "releases", "*"))
		return names
	}

	// Not a whole gzip stream: tar fails half-way.
	out, err := run(Unpack(l, "test", nil, nil).Script, strings.NewReader("\x1f\x8b\x08\x00cut off"))
	if err == nil {
		t.Fatalf("the unpack of a cut-off archive succeeded:\n%s", out)
	}
	if !strings.Contains(out, "removed the unfinished release "+filepath.Join(l.AppDir, "releases")) {
		t.Errorf("the failed unpack does not say it removed its release:\n%s", out)
	}
	if got := releases(); len(got) != 1 || got[0] != live {
		t.Errorf("releases after a failed unpack = %v; want only %s", got, live)
	}

	// A release the unpack made, whose dependencies cannot be copied.
	rel := filepath.Join(l.AppDir, "releases", "new")
	os.MkdirAll(rel, 0o755)
	os.MkdirAll(filepath.Dir(l.incoming()), 0o700)
	os.WriteFile(l.incoming(), []byte(rel+"\n"), 0o644)
	hit, _, _ := verdicts(t)
	out, err = run(Dependencies(l, filepath.Join(dir, "no-precache"), hit, true, npmaudit.Auto).Script, nil)
	if err == nil {
		t.Fatalf("copying from a missing precache succeeded:\n%s", out)
	}
	if got := releases(); len(got) != 1 || got[0] != live {
		t.Errorf("releases after a failed dependencies step = %v; want only %s", got, live)
	}
	if _, err := os.Stat(l.incoming()); !os.IsNotExist(err) {
		t.Errorf("the failed dependencies step left %s", l.incoming())
	}
	if got, _ := os.Readlink(l.Current()); got != live {
		t.Errorf("%s -> %s; want the live release %s", l.Current(), got, live)
	}

	// The same step never removes the live release, whatever the record says.
	os.WriteFile(l.incoming(), []byte(live+"\n"), 0o644)
	if out, err = run(Dependencies(l, filepath.Join(dir, "no-precache"), hit, true, npmaudit.Auto).Script, nil); err == nil {
		t.Fatalf("copying from a missing precache succeeded:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(live, "app.js")); err != nil {
		t.Errorf("a failed dependencies step removed the live release: %v\n%s", err, out)
	}
}
