package firewall

import (
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

// TestRedirectGolden renders the redirect for each backend; regenerate with
// go test ./internal/firewall -update.
func TestRedirectGolden(t *testing.T) {
	for _, c := range []struct {
		name     string
		backend  string
		from, to int
		files    int // nftables uploads its table, iptables saves its rules
	}{
		{"redirect-nftables", "nftables", 80, 8080, 1},
		{"redirect-iptables", "iptables", 80, 8080, 0},
		{"redirect-nftables-443", "nftables", 443, 8443, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Redirect(c.backend, c.from, c.to)
			golden.Steps(t, c.name, s)
			if len(s.Files) != c.files {
				t.Fatalf("%d files uploaded; want %d", len(s.Files), c.files)
			}
			if c.files == 1 && (s.Files[0].Path != NftFile || !strings.Contains(s.Script, "nft -f "+NftFile)) {
				t.Errorf("the table is uploaded to %s and the script must load that file", s.Files[0].Path)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		backend, iptables, want string
	}{
		{"auto", "iptables v1.8.9 (legacy)", "iptables"},
		{"auto", "iptables v1.8.7 (legacy)", "iptables"},
		{"auto", "iptables v1.8.9 (nf_tables)", "nftables"},
		{"auto", "", "nftables"}, // no iptables at all
		{"nftables", "iptables v1.8.9 (legacy)", "nftables"},
		{"nftables", "", "nftables"},
		{"iptables", "iptables v1.8.9 (nf_tables)", "iptables"},
		{"iptables", "", "iptables"},
	} {
		if got := Resolve(c.backend, c.iptables); got != c.want {
			t.Errorf("Resolve(%q, %q) = %q; want %q", c.backend, c.iptables, got, c.want)
		}
	}
}
