package apt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/plan"
)

// pinned holds a plain name, a version pin and a release pin.
var pinned = []string{"git", "curl=7.88.1-10+deb12u8", "nginx/bookworm-backports", "g++"}

// TestStepsGolden renders every step of the package; regenerate with
// go test ./internal/apt -update.
func TestStepsGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		step plan.Step
	}{
		{"wait-lock", WaitForLock()},
		{"update", Update()},
		{"install-one", Install("install nginx", []string{"nginx"})},
		{"install-pinned", Install("install base packages", pinned)},
		{"clean", Clean()},
		{"speedup", SpeedUp()},
		{"install-preseeded", InstallPreseeded("install packages", []string{"nginx", "iptables-persistent"},
			[]string{"iptables-persistent iptables-persistent/autosave_v4 boolean false"})},
		{"restore", Restore()},
	} {
		t.Run(c.name, func(t *testing.T) { golden.Steps(t, c.name, c.step) })
	}
}

// fakeDpkg is a dpkg-query and an apt_install over a directory of
// installed versions (one file a package), so the install script runs for
// real: apt_install installs what it is asked, at the pinned version or at
// "new" (or, with keep, installs nothing, as a held package does).
func fakeDpkg(t *testing.T, installed map[string]string, keep bool) (script string, state string) {
	t.Helper()
	bin, state := t.TempDir(), t.TempDir()
	for name, v := range installed {
		os.WriteFile(filepath.Join(state, name), []byte(v), 0o644)
	}
	query := "#!/bin/sh\nf=" + state + "/$4\n[ -f \"$f\" ] && printf 'install ok installed %s' \"$(cat \"$f\")\"\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "dpkg-query"), []byte(query), 0o755); err != nil {
		t.Fatal(err)
	}
	install := `apt_install() {
  echo "apt_install $*"
  [ -z "` + map[bool]string{true: "keep", false: ""}[keep] + `" ] || return 0
  for p in "$@"; do
    case $p in
    --*) ;;
    *=*) echo "${p#*=}" > ` + state + `/"${p%%=*}" ;;
    *) echo new > ` + state + `/"${p%%/*}" ;;
    esac
  done
}
`
	return "PATH=" + bin + ":$PATH\n" + install, state
}

// TestInstallOnlyMissing: installed packages are left alone, a package
// pinned to a version is installed when another version is there, a
// release pin always goes to apt.
func TestInstallOnlyMissing(t *testing.T) {
	pre, _ := fakeDpkg(t, map[string]string{"git": "1:2.39.2-1.1", "curl": "7.88.1-10+deb12u5"}, false)
	out, err := exec.Command("/bin/sh", "-eu", "-c", pre+Install("x", pinned).Script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "apt_install --allow-downgrades curl=7.88.1-10+deb12u8 nginx/bookworm-backports g++\n"; !strings.Contains(string(out), want) {
		t.Errorf("output:\n%s\nwant %q", out, want)
	}
	// A second run finds the pinned version there.
	pre, _ = fakeDpkg(t, map[string]string{"git": "1", "curl": "7.88.1-10+deb12u8", "g++": "4:12.2.0-3"}, false)
	out, err = exec.Command("/bin/sh", "-eu", "-c", pre+Install("x", []string{"git", "curl=7.88.1-10+deb12u8", "g++"}).Script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already installed") {
		t.Errorf("a satisfied pin was installed again: %v\n%s", err, out)
	}
}

// TestInstallFailsWhenAPinIsNotHonoured: when apt leaves another version
// (a held package), the step fails naming the package and both versions.
func TestInstallFailsWhenAPinIsNotHonoured(t *testing.T) {
	pre, _ := fakeDpkg(t, map[string]string{"curl": "7.88.1-10+deb12u5"}, true)
	out, err := exec.Command("/bin/sh", "-eu", "-c", pre+Install("x", []string{"curl=7.88.1-10+deb12u8"}).Script).CombinedOutput()
	if err == nil {
		t.Fatalf("a pin apt did not honour passed:\n%s", out)
	}
	if want := "package curl: version 7.88.1-10+deb12u8 was asked for, but 7.88.1-10+deb12u5 is installed"; !strings.Contains(string(out), want) {
		t.Errorf("output:\n%s\nwant %q", out, want)
	}
}

// TestMerge: one list, in order, each name once, the first (the user's
// pin) winning.
func TestMerge(t *testing.T) {
	got := Merge([]string{"git", "curl=7.88.1-10+deb12u8"}, []string{"nginx"}, []string{"curl", "nginx/bookworm-backports", "xz-utils", "git"})
	if want := "git curl=7.88.1-10+deb12u8 nginx xz-utils"; strings.Join(got, " ") != want {
		t.Errorf("Merge = %q; want %q", got, want)
	}
}

func TestValidPackage(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"nginx", true},
		{"g++", true},
		{"libc6-dev", true},
		{"python3.11", true},
		{"curl=7.88.1-10+deb12u8", true},
		{"openssh-server=1:9.2p1-2+deb12u3", true},
		{"nginx/bookworm-backports", true},
		{"", false},
		{"a", false}, // Debian names have at least two characters
		{"Nginx", false},
		{"-y", false},
		{"--allow-unauthenticated", false},
		{"curl$(id)", false},
		{"curl`id`", false},
		{"curl;id", false},
		{"a b", false},
		{"curl\n", false},
		{"curl\nid", false},
		{"curl=", false},
		{"curl=1.0$(id)", false},
		{"curl=1.0 -y", false},
		{"nginx/", false},
		{"curl=1.0/bookworm", false},
		{"../x", false},
		{"curl*", false},
	} {
		err := ValidPackage(c.name)
		if c.ok && err != nil {
			t.Errorf("ValidPackage(%q) = %v; want it accepted", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("ValidPackage(%q) accepted it", c.name)
		}
	}
}

// TestWaitForLockRetriesConfigureWhileLocked: when another process takes
// the lock again right after the wait (unattended-upgrades), dpkg
// --configure -a is retried instead of failing the build; another error
// still fails it.
func TestWaitForLockRetriesConfigureWhileLocked(t *testing.T) {
	for _, c := range []struct {
		name, failure string
		ok            bool
	}{
		{"locked twice", "dpkg: error: dpkg frontend lock was locked by another process with pid 4242", true},
		{"broken package", "dpkg: error processing package foo (--configure): subprocess failed", false},
		{"broken package with lock in its name", "dpkg: error processing package libfilelock1 (--configure): subprocess failed", false},
	} {
		bin := t.TempDir()
		count := filepath.Join(bin, "count")
		dpkg := "#!/bin/sh\nn=$(cat " + count + " 2>/dev/null || echo 0); echo $((n+1)) > " + count +
			"\nif [ $n -lt 2 ]; then echo '" + c.failure + "' >&2; exit 2; fi\necho configured\n"
		if err := os.WriteFile(filepath.Join(bin, "dpkg"), []byte(dpkg), 0o755); err != nil {
			t.Fatal(err)
		}
		// No lock is held on this machine's dpkg files (or they do not
		// exist): the wait loop passes at once, then dpkg is retried.
		script := golden.Prelude + "dpkg_lock_timeout=5\nPATH=" + bin + ":$PATH\nsleep() { :; }\n" + WaitForLock().Script
		out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
		if c.ok && (err != nil || !strings.Contains(string(out), "dpkg lock is free")) {
			t.Errorf("%s: %v\n%s", c.name, err, out)
		}
		if !c.ok && (err == nil || !strings.Contains(string(out), "subprocess failed")) {
			t.Errorf("%s: want a failure showing dpkg's error, got %v\n%s", c.name, err, out)
		}
	}
}

// TestRequireUniverse runs the check on sources written here: one-line and
// deb822 sources that enable universe pass; sources without it fail,
// naming the packages.
func TestRequireUniverse(t *testing.T) {
	if got := NeedUniverse([]string{"git", "graphicsmagick=1.4+really1.3.40-4", "curl", "iptables-persistent/noble", "graphicsmagick"}); strings.Join(got, " ") != "graphicsmagick iptables-persistent" {
		t.Errorf("NeedUniverse = %q", got)
	}
	golden.Steps(t, "universe", RequireUniverse([]string{"graphicsmagick"}))
	script := RequireUniverse([]string{"graphicsmagick"}).Script
	for name, c := range map[string]struct {
		sources string
		ok      bool
	}{
		"one-line":      {"deb http://mirror.test/ubuntu noble main restricted universe\n", true},
		"deb822":        {"Types: deb\nURIs: http://mirror.test/ubuntu\nSuites: noble noble-updates\nComponents: main universe restricted\n", true},
		"main only":     {"deb http://mirror.test/ubuntu noble main restricted\n", false},
		"commented out": {"# deb http://mirror.test/ubuntu noble universe\ndeb http://mirror.test/ubuntu noble main\n", false},
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc/apt/sources.list.d"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/apt/sources.list.d/ubuntu.sources"), []byte(c.sources), 0o644)
		s := strings.ReplaceAll(script, "/etc/apt/", root+"/etc/apt/")
		out, err := exec.Command("/bin/sh", "-eu", "-c", s).CombinedOutput()
		if c.ok && err != nil {
			t.Errorf("%s: the check failed: %v\n%s", name, err, out)
		}
		if !c.ok && (err == nil || !strings.Contains(string(out), "graphicsmagick: Ubuntu ships them in the universe component")) {
			t.Errorf("%s: the check passed or did not name the package: %v\n%s", name, err, out)
		}
	}
}

// TestSpeedUpIsRestored runs the speed-up and restore scripts for real in a
// temporary root: the settings are restored as they were (man-db's file
// there or not), after a normal run, after a crash between the two followed
// by a rerun, and a restore with nothing to do changes nothing.
func TestSpeedUpIsRestored(t *testing.T) {
	run := func(t *testing.T, script string) string {
		t.Helper()
		out, err := exec.Command("/bin/sh", "-eu", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return string(out)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, c := range []struct {
		name    string
		manDB   bool // man-db installed with auto-update on
		crashes int  // speed-up runs before the one that gets to restore
	}{
		{"man-db on", true, 0},
		{"no man-db", false, 0},
		{"man-db on, rerun after a crash", true, 1},
		{"man-db on, two crashes", true, 2},
		{"no man-db, rerun after a crash", false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := paths(root)
			os.MkdirAll(filepath.Dir(p.Snippet), 0o755)
			if c.manDB {
				os.MkdirAll(filepath.Dir(p.AutoUpdate), 0o755)
				os.WriteFile(p.AutoUpdate, nil, 0o644)
			}
			for i := 0; i <= c.crashes; i++ {
				out := run(t, speedUpScript(root))
				if i > 0 && !strings.Contains(out, "an earlier run did not restore") {
					t.Errorf("a rerun did not notice the earlier run's marker:\n%s", out)
				}
				if b, err := os.ReadFile(p.Snippet); err != nil || !strings.Contains(string(b), "\nforce-unsafe-io\n") {
					t.Fatalf("dpkg snippet: %v %q", err, b)
				}
				if exists(p.AutoUpdate) {
					t.Fatalf("man-db's auto-update is still on during the build")
				}
			}
			run(t, restoreScript(root))
			if exists(p.Snippet) || exists(p.Marker) || exists(filepath.Dir(p.Marker)) {
				t.Errorf("left behind: snippet %v, marker %v, its directory %v", exists(p.Snippet), exists(p.Marker), exists(filepath.Dir(p.Marker)))
			}
			if exists(p.AutoUpdate) != c.manDB {
				t.Errorf("man-db's auto-update is %v after the build; it was %v", exists(p.AutoUpdate), c.manDB)
			}
			if out := run(t, restoreScript(root)); !strings.Contains(out, "nothing to restore") || exists(p.AutoUpdate) != c.manDB {
				t.Errorf("a second restore changed something:\n%s", out)
			}
		})
	}
}
