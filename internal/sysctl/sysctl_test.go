package sysctl

import (
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

const file = "/etc/sysctl.d/60-node-primal.conf"

var settings = map[string]string{
	"vm.swappiness":                      "10",
	"net.ipv4.tcp_slow_start_after_idle": "0",
	"net.core.somaxconn":                 "4096",
	"net.ipv4.tcp_rmem":                  "4096 87380 6291456",
	"net.ipv4.conf.all.rp_filter":        "1",
}

// TestPersistGolden renders the settings; regenerate with
// go test ./internal/sysctl -update.
func TestPersistGolden(t *testing.T) {
	golden.Steps(t, "persist", Persist(file, settings))
}

// TestPersistWholeFile checks that the file holds every setting, sorted by
// key whatever the map's order, and is uploaded whole (a rerun replaces it,
// the script appends nothing), so two runs write the same bytes.
func TestPersistWholeFile(t *testing.T) {
	s := Persist(file, settings)
	if len(s.Files) != 1 || s.Files[0].Path != file {
		t.Fatalf("files %+v; want the one file %s", s.Files, file)
	}
	lines := strings.Split(strings.TrimSuffix(string(s.Files[0].Content), "\n"), "\n")
	want := []string{
		"net.core.somaxconn = 4096",
		"net.ipv4.conf.all.rp_filter = 1",
		"net.ipv4.tcp_rmem = 4096 87380 6291456",
		"net.ipv4.tcp_slow_start_after_idle = 0",
		"vm.swappiness = 10",
	}
	if got := strings.Join(lines[1:], "\n"); !strings.HasPrefix(lines[0], "#") || got != strings.Join(want, "\n") {
		t.Errorf("file content:\n%s\nwant a comment, then:\n%s", s.Files[0].Content, strings.Join(want, "\n"))
	}
	if strings.Contains(s.Script, ">") || s.Script != "sysctl -p "+file+"\n" {
		t.Errorf("script %q; want only sysctl -p %s", s.Script, file)
	}
	for i := 0; i < 10; i++ {
		if again := Persist(file, settings); string(again.Files[0].Content) != string(s.Files[0].Content) {
			t.Fatalf("a rerun writes another file:\n%s", again.Files[0].Content)
		}
	}
}

func TestValidKey(t *testing.T) {
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"net.ipv4.ip_forward", true},
		{"vm.swappiness", true},
		{"net.ipv4.conf.all.rp_filter", true},
		{"net.ipv6.conf.ens-3.disable_ipv6", true},
		{"net.ipv4.conf.eth0.RP_filter", true},
		{"", false},
		{"swappiness", false},
		{"Net.ipv4.ip_forward", false},
		{".net.ipv4", false},
		{"net..ipv4", false},
		{"net.ipv4.", false},
		{"net/ipv4/ip_forward", false},
		{"net.ipv4.ip_forward=1", false},
		{"net.ipv4.ip forward", false},
		{"net.ipv4.ip_forward\n", false},
		{"net.ipv4.$(id)", false},
	} {
		if err := ValidKey(c.key); (err == nil) != c.ok {
			t.Errorf("ValidKey(%q) = %v; want ok=%v", c.key, err, c.ok)
		}
	}
}

func TestValidValue(t *testing.T) {
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"1", true},
		{"0", true},
		{"4096 87380 6291456", true},
		{"bbr", true},
		{"fq_codel", true},
		{"/usr/lib/systemd/systemd-coredump", true},
		{"10.0.0.1", true},
		{"", false},
		{" 1", false},
		{"1 ", false},
		{"1\n", false},
		{"1\nkernel.panic = 0", false},
		{"1\t2", false},
		{"$(reboot)", false},
		{"1;reboot", false},
		{"a=b", false},
		{"1 # comment", false},
	} {
		if err := ValidValue(c.value); (err == nil) != c.ok {
			t.Errorf("ValidValue(%q) = %v; want ok=%v", c.value, err, c.ok)
		}
	}
}
