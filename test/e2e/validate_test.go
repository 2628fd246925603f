//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateRejectsBadInput: `packer validate` reports every mistake in a
// node-primal block, each naming its field, before any machine exists.
func TestValidateRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "bad.pkr.hcl")
	err := os.WriteFile(tpl, []byte(`
source "null" "x" { communicator = "none" }
build {
  sources = ["source.null.x"]
  provisioner "node-primal" {
    instance_user     = "admin; reboot"
    packages          = ["git", "curl$(id)"]
    sysctl            = { "net.core.somaxconn" = "1\nkernel.panic = 1" }
    dpkg_lock_timeout = "-1m"
  }
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runPacker(t, "validate", tpl)
	if err == nil {
		t.Fatal("packer validate accepted a template with bad node-primal settings")
	}
	for _, want := range []string{"4 error(s) occurred", "instance_user:", "packages[1]:", `sysctl["net.core.somaxconn"]:`, "dpkg_lock_timeout:"} {
		if !strings.Contains(out, want) {
			t.Errorf("packer validate output lacks %q", want)
		}
	}

	out, err = runPacker(t, "validate", "-var", "host=192.0.2.1", "-var", "ssh_private_key_file="+writeKey(t, dir), primalTemplate)
	if err != nil {
		t.Errorf("packer validate rejected the example template: %v\n%s", err, out)
	}
}

// writeKey writes a throwaway private key so the null builder's SSH config
// validates; nothing connects with it.
func writeKey(t *testing.T, dir string) string {
	path := filepath.Join(dir, "id_ed25519")
	if out, err := runCmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return path
}
