package cacerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

func pem(body string) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n")
}

var (
	corp  = Cert{Name: "ca-01.crt", Content: pem("MIIBfakeCorporateRootCA")}
	proxy = Cert{Name: "ca-02.crt", Content: pem("MIIBfakeInspectingProxyCA")}
)

// TestInstallGolden trusts one, then two certificates; regenerate with
// go test ./internal/cacerts -update. Each certificate is one file in Dir,
// and the script keeps exactly the configured names.
func TestInstallGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		certs []Cert
		keep  string
	}{
		{"install-one", []Cert{corp}, `keep=" ca-01.crt "`},
		{"install-two", []Cert{corp, proxy}, `keep=" ca-01.crt ca-02.crt "`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Install(c.certs)
			golden.Steps(t, c.name, s)
			if len(s.Files) != len(c.certs) {
				t.Fatalf("%d files uploaded; want %d", len(s.Files), len(c.certs))
			}
			for i, f := range s.Files {
				if f.Path != Dir+"/"+c.certs[i].Name || f.Mode != 0o644 || string(f.Content) != string(c.certs[i].Content) {
					t.Errorf("file %s mode %04o; want %s/%s mode 0644 with the certificate", f.Path, f.Mode, Dir, c.certs[i].Name)
				}
			}
			if !strings.Contains(s.Script, c.keep+"\n") {
				t.Errorf("the script does not keep exactly %s", c.keep)
			}
		})
	}
}

// TestInstallRemovesOthers runs the script's removal loop in a temporary
// directory: only the configured names stay, even ones that merely
// contain a configured name.
func TestInstallRemovesOthers(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"ca-01.crt", "ca-02.crt", "xca-01.crt", "ca-01.crt.crt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loop, _, ok := strings.Cut(Install([]Cert{corp}).Script, "update-ca-certificates\n")
	if !ok {
		t.Fatal("the script does not run update-ca-certificates")
	}
	if out, err := exec.Command("/bin/sh", "-eu", "-c", strings.ReplaceAll(loop, Dir, dir)).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "ca-01.crt" {
		t.Errorf("left %v; want only ca-01.crt", left)
	}
}
