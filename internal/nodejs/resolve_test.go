package nodejs

import (
	"strings"
	"testing"
)

// index is shaped like nodejs.org's index.json, deliberately out of order.
const index = `[
 {"version":"v20.18.1","date":"2024-11-20","files":["linux-x64","linux-arm64"],"npm":"10.8.2","lts":"Iron","security":false},
 {"version":"v23.4.0","date":"2024-12-10","files":["linux-x64","linux-arm64"],"npm":"10.9.2","lts":false,"security":false},
 {"version":"v22.12.0","date":"2024-12-03","files":["linux-x64","linux-arm64"],"npm":"10.9.0","lts":"Jod","security":false},
 {"version":"v22.9.0","date":"2024-09-17","files":["linux-x64"],"npm":"10.8.3","lts":false,"security":false},
 {"version":"v22.11.0","date":"2024-10-29","files":["linux-x64"],"npm":"10.9.0","lts":"Jod","security":false},
 {"version":"v20.19.0","date":"2025-03-13","files":["linux-arm64"],"npm":"10.8.2","lts":"Iron","security":false}
]`

func TestResolve(t *testing.T) {
	cases := []struct{ spec, platform, want, err string }{
		{"lts", "linux-x64", "22.12.0", ""},
		{"22", "linux-x64", "22.12.0", ""}, // 22.12.0 > 22.11.0 > 22.9.0 numerically, not as strings
		{"20", "linux-x64", "20.18.1", ""}, // 20.19.0 has no linux-x64 build
		{"20", "linux-arm64", "20.19.0", ""},
		{"23", "linux-x64", "23.4.0", ""},
		{"22.11.0", "linux-x64", "22.11.0", ""},
		{"v22.11.0", "linux-x64", "22.11.0", ""},
		{"22.11.0", "linux-arm64", "", `no release for linux-arm64`},
		{"18", "linux-x64", "", `node_version "18": no release`},
	}
	for _, c := range cases {
		got, err := Resolve([]byte(index), c.spec, c.platform)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Resolve(%q, %s) error = %v; want %q", c.spec, c.platform, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Resolve(%q, %s) = %q, %v; want %q", c.spec, c.platform, got, err, c.want)
		}
	}
	if _, err := Resolve([]byte("<html>"), "lts", "linux-x64"); err == nil {
		t.Error("Resolve accepted an index that is not JSON")
	}
}

func TestValidVersionSpec(t *testing.T) {
	for _, ok := range []string{"lts", "22", "v22", "22.12.0", "v22.12.0", "0.10.48"} {
		if err := ValidVersionSpec(ok); err != nil {
			t.Errorf("ValidVersionSpec(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "LTS", "22.x", "22.12", "latest", "022", "22.12.0;id", "lts/jod"} {
		if err := ValidVersionSpec(bad); err == nil {
			t.Errorf("ValidVersionSpec(%q) accepted", bad)
		}
	}
}

func TestChecksum(t *testing.T) {
	sums := "aaaa  node-v22.12.0-linux-arm64.tar.xz\n" +
		strings.Repeat("b", 64) + "  node-v22.12.0-linux-x64.tar.gz\n" +
		strings.Repeat("c", 64) + "  node-v22.12.0-linux-x64.tar.xz\n"
	got, err := Checksum([]byte(sums), "node-v22.12.0-linux-x64.tar.xz")
	if err != nil || got != strings.Repeat("c", 64) {
		t.Errorf("Checksum = %q, %v", got, err)
	}
	if _, err := Checksum([]byte(sums), "node-v22.12.0-linux-arm64.tar.xz"); err == nil {
		t.Error("Checksum accepted a malformed hash")
	}
	if _, err := Checksum([]byte(sums), "node-v1.0.0-linux-x64.tar.xz"); err == nil {
		t.Error("Checksum found a file that is not listed")
	}
}

func TestPlatform(t *testing.T) {
	if p, _ := Platform("x86_64\n"); p != "linux-x64" {
		t.Errorf("Platform(x86_64) = %q", p)
	}
	if p, _ := Platform("aarch64"); p != "linux-arm64" {
		t.Errorf("Platform(aarch64) = %q", p)
	}
	if _, err := Platform("mips"); err == nil {
		t.Error("Platform(mips) accepted")
	}
}
