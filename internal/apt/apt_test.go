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
	} {
		t.Run(c.name, func(t *testing.T) { golden.Steps(t, c.name, c.step) })
	}
}

// TestInstallOnlyMissing runs the install script with a fake dpkg-query
// (only git is installed) and a fake apt_install: a pinned package is
// looked up by its bare name and installed with its pin.
func TestInstallOnlyMissing(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "queried")
	fake := "#!/bin/sh\necho \"$4\" >> " + log + "\n[ \"$4\" = git ] && printf 'install ok installed'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "dpkg-query"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "PATH=" + bin + ":$PATH\napt_install() { echo \"apt_install $*\"; }\n" + Install("x", pinned).Script
	out, err := exec.Command("/bin/sh", "-eu", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "apt_install curl=7.88.1-10+deb12u8 nginx/bookworm-backports g++\n"; !strings.HasSuffix(string(out), want) {
		t.Errorf("output:\n%s\nwant it to end with %q", out, want)
	}
	queried, _ := os.ReadFile(log)
	if got, want := string(queried), "git\ncurl\nnginx\ng++\n"; got != want {
		t.Errorf("dpkg-query was asked about %q; want %q", got, want)
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
