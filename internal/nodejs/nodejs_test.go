package nodejs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

// fakeNvm runs the nvm step's script against a fake nvm in dir (nvm.sh that
// prints version as `nvm --version` does) and a fake curl that fails, and
// returns the output.
func fakeNvm(t *testing.T, installedVersion string) (string, error) {
	t.Helper()
	dir, bin := t.TempDir(), t.TempDir()
	if installedVersion != "" {
		nvmSh := "nvm() { case $1 in --version) echo " + installedVersion + ";; which) echo " + bin + "/node;; *) echo \"nvm $*\";; esac; }\n"
		if err := os.WriteFile(filepath.Join(dir, "nvm.sh"), []byte(nvmSh), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A download cut half-way: part of the installer, then curl's error.
	curl := `#!/bin/sh
half='echo "ran-$((6*7))"'
out=
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
if [ -n "$out" ]; then echo "$half" > "$out"; else echo "$half"; fi
echo 'curl: (18) transfer closed with 1000 bytes remaining to read' >&2
exit 18
`
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(curl), 0o755); err != nil {
		t.Fatal(err)
	}
	s := InstallNvm("v0.40.1", NvmInstallURL("v0.40.1"), "lts", "https://nodejs.org/dist")
	script := golden.Prelude + "PATH=" + bin + ":$PATH\n" + strings.Replace(s.Script, "export NVM_DIR="+NvmDir, "export NVM_DIR="+dir, 1)
	// The links and the closing version line need a real /usr/local/bin:
	// stop the script right after the install decision.
	script = script[:strings.Index(script, "nvm install")] + "echo reached nvm install\n"
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	return string(out), err
}

// TestNvmAlreadyInstalled: an nvm of the configured release is recognised
// (its --version has no "v"), so a rerun downloads nothing.
func TestNvmAlreadyInstalled(t *testing.T) {
	out, err := fakeNvm(t, "0.40.1")
	if err != nil || !strings.Contains(out, "nvm v0.40.1 is already installed") {
		t.Errorf("an installed nvm v0.40.1 was not recognised: %v\n%s", err, out)
	}
}

// TestNvmFailedDownloadFails: a download cut half-way stops the step with
// curl's error, and no part of the installer runs.
func TestNvmFailedDownloadFails(t *testing.T) {
	out, err := fakeNvm(t, "")
	if err == nil || strings.Contains(out, "reached nvm install") {
		t.Errorf("a failed download of nvm's installer did not fail the step: %v\n%s", err, out)
	}
	if strings.Contains(out, "ran-42") {
		t.Errorf("half of the installer ran:\n%s", out)
	}
	if !strings.Contains(out, "curl: (18)") {
		t.Errorf("the failure does not show curl's error:\n%s", out)
	}
}

// TestFetchKeepsTheURLOffTheCommandLine runs Fetch's command with a fake
// curl that records its arguments and its standard input: the URL, with a
// mirror's credentials, is only on stdin, and the waits are bounded.
func TestFetchKeepsTheURLOffTheCommandLine(t *testing.T) {
	bin := t.TempDir()
	rec := filepath.Join(bin, "rec")
	curl := "#!/bin/sh\necho \"ARGS $*\" > " + rec + "\ncat >> " + rec + "\n"
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(curl), 0o755); err != nil {
		t.Fatal(err)
	}
	url := "https://bob:S3CRETpw@mirror.example.test/dist/index.json"
	out, err := exec.Command("/bin/sh", "-ec", "PATH="+bin+":$PATH\n"+Fetch(url, "", 120)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, _ := os.ReadFile(rec)
	args, stdin, _ := strings.Cut(string(b), "\n")
	if strings.Contains(args, "S3CRET") {
		t.Errorf("the URL is on curl's command line: %s", args)
	}
	if strings.TrimSpace(stdin) != `url = "`+url+`"` {
		t.Errorf("curl's config on stdin = %q", stdin)
	}
	for _, bound := range []string{"--connect-timeout 20", "--speed-limit 1024 --speed-time 60", "--max-time 120", "--retry 3"} {
		if !strings.Contains(args, bound) {
			t.Errorf("curl is not bounded by %s: %s", bound, args)
		}
	}
}
