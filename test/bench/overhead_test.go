//go:build bench

package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// median runs f n times and returns the median of its durations.
func median(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	return medianOf(ds)
}

// benchOverhead: what the plugin costs every Packer command: its
// `describe` (Packer runs it for every installed plugin on every command)
// and `packer validate` of the example templates; medians.
func benchOverhead(t *testing.T) {
	bin := filepath.Join(root(), "packer-plugin-node")
	describe := median(t, 21, func() error {
		out, err := exec.Command(bin, "describe").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"primal"`) {
			return fmt.Errorf("describe: %v\n%s", err, out)
		}
		return nil
	})
	record("overhead", "packer-plugin-node describe (median of 21)", fmt.Sprintf("%.0f ms", float64(describe)/float64(time.Millisecond)), "")
	// The sandbox templates' null builder reads its SSH key at validate.
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	for _, c := range []struct {
		template string
		vars     []string
	}{
		{"example/sandbox/primal.pkr.hcl", []string{"-var", "host=192.0.2.1", "-var", "ssh_private_key_file=" + key}},
		{"example/sandbox/carnivore.pkr.hcl", []string{"-var", "host=192.0.2.1", "-var", "ssh_private_key_file=" + key}},
		{"example/aws/primal.pkr.hcl", nil},
		{"example/aws/carnivore.pkr.hcl", nil},
		// For reference: Packer alone (null builder, shell and file, no
		// node-* block), with the same plugins installed.
		{"example/sandbox/upload-file.pkr.hcl", []string{"-var", "host=192.0.2.1", "-var", "ssh_private_key_file=" + key, "-var", "source_dir=example/app"}},
	} {
		d := median(t, 7, func() error {
			out, _, err := packerErr(append(append([]string{"validate"}, c.vars...), c.template)...)
			if err != nil {
				return fmt.Errorf("packer validate %s: %v\n%s", c.template, err, out)
			}
			return nil
		})
		record("overhead", "packer validate "+c.template+" (median of 7)", fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)), "")
	}
}
