package primal

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestPlanGolden renders whole plans and compares them with testdata/*.golden:
// a reviewer reads every script the provisioner will run in one file, and any
// change to a step shows up as a diff. Regenerate with: go test ./provisioner/primal -update
func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
		user string
	}{
		{"default", map[string]interface{}{}, "admin"},
		{"custom", map[string]interface{}{
			"packages":                  []string{"git", "curl=7.88.1-10+deb12u8"},
			"extra_packages":            []string{"htop"},
			"tcp_slow_start_after_idle": true,
			"sysctl":                    map[string]string{"net.core.somaxconn": "1024"},
			"dpkg_lock_timeout":         "90s",
		}, "web-app_1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			if err := p.Prepare(tc.raw); err != nil {
				t.Fatal(err)
			}
			pl, err := p.config.Plan(tc.user)
			if err != nil {
				t.Fatal(err)
			}
			got := pl.Render()
			path := filepath.Join("testdata", "plan-"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func TestPlanStepNames(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(map[string]interface{}{}); err != nil {
		t.Fatal(err)
	}
	pl, err := p.config.Plan("admin")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range pl.Steps {
		names = append(names, s.Name)
	}
	want := []string{
		"wait for the dpkg lock",
		"apt-get update",
		"install base packages",
		"install nginx",
		"enable nginx at boot",
		"nginx log dir owned by admin",
		"persist kernel settings in /etc/sysctl.d/60-node-primal.conf",
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("steps = %q\nwant    %q", names, want)
	}
}

func TestPlanRejectsBadUser(t *testing.T) {
	var c Config
	c.setDefaults()
	if _, err := c.Plan("bad user"); err == nil || !strings.Contains(err.Error(), "instance_user") {
		t.Fatalf("want an instance_user error, got %v", err)
	}
}
