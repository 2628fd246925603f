//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maxStrippedSize is the budget for the released (stripped) plugin binary:
// 20 MiB. Holding an *ec2.Client in any struct or interface would blow it
// (net/rpc reflection keeps all ~800 of its methods, ~+30 MB).
const maxStrippedSize = 20 << 20

// TestStrippedBinarySize builds the plugin the way a release does and
// checks it stays within budget.
func TestStrippedBinarySize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "packer-plugin-node")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stripped plugin binary: %d bytes (%.2f MiB; budget %.0f MiB)", fi.Size(), float64(fi.Size())/(1<<20), float64(maxStrippedSize)/(1<<20))
	if fi.Size() > maxStrippedSize {
		t.Errorf("the stripped binary is %d bytes, over the %d-byte budget", fi.Size(), maxStrippedSize)
	}
}
