package primal

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/nodejs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenFacts stand for what Provision reads from a machine.
var goldenFacts = Facts{
	User: "admin", Home: "/home/admin", Platform: "linux-x64",
	Node: nodejs.Tarball{
		Mirror: "https://nodejs.org/dist", Version: "22.12.0", Platform: "linux-x64",
		SHA256: "22982235e1b71fa8850f82edd09cdae7e3f32df1764a9ec298c72d25ef2c164f",
	},
}

// render is the whole run as text: the system plan, then the Node.js plan.
func render(t *testing.T, raw map[string]interface{}, f Facts) string {
	t.Helper()
	var p Provisioner
	if err := p.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	sys, err := p.config.SystemPlan(f)
	if err != nil {
		t.Fatal(err)
	}
	np, err := p.config.NodePlan(f)
	if err != nil {
		t.Fatal(err)
	}
	return sys.Render() + "######## after the system plan: Node.js\n" + np.Render()
}

// TestPlanGolden renders whole runs and compares them with testdata/*.golden:
// a reviewer reads every script the provisioner will run in one file, and any
// change to a step shows up as a diff. Regenerate with:
// go test ./provisioner/primal -update
func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
	}{
		{"default", map[string]interface{}{}},
		{"tarball-nftables-precache", map[string]interface{}{
			"packages":                  []string{"git", "curl=7.88.1-10+deb12u8"},
			"extra_packages":            []string{"htop"},
			"tcp_slow_start_after_idle": true,
			"sysctl":                    map[string]string{"net.core.somaxconn": "1024"},
			"dpkg_lock_timeout":         "90s",
			"firewall_backend":          "nftables",
			"public_port":               8000,
			"nginx_port":                8081,
			"package_json":              "testdata/app/package.json",
			"npm_registry":              "https://npm.example.test/",
			"npm_token":                 "npm_SECRETtoken123",
			"https_proxy":               "http://proxy.example.test:3128",
			"no_proxy":                  "localhost,127.0.0.1",
			"ca_certificates":           []string{"testdata/ca.pem"},
		}},
		{"nvm-iptables", map[string]interface{}{
			"node_installer":   "nvm",
			"node_version":     "20",
			"nvm_version":      "v0.39.7",
			"firewall_backend": "iptables",
			"ip_forward":       false,
		}},
		{"distro-nolockfile", map[string]interface{}{
			"node_installer": "distro",
			"package_json":   "testdata/nolock/package.json",
			"precache_dir":   "/srv/precache",
			"keep_npm_token": true,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.raw, goldenFacts)
			if strings.Contains(got, "SECRETtoken") {
				t.Fatal("the rendered plan shows the npm token")
			}
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
	if err := p.Prepare(map[string]interface{}{"package_json": "testdata/app/package.json"}); err != nil {
		t.Fatal(err)
	}
	sys, err := p.config.SystemPlan(goldenFacts)
	if err != nil {
		t.Fatal(err)
	}
	np, err := p.config.NodePlan(goldenFacts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range append(sys.Steps, np.Steps...) {
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
		"redirect port 80 to 8080 (auto, persisted)",
		"install Node.js installer prerequisites",
		"install Node.js v22.12.0 (linux-x64, from https://nodejs.org/dist)",
		"precache production dependencies in /home/admin/app/precache",
		"clean apt's package cache",
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("steps = %q\nwant    %q", names, want)
	}
}

func TestPlanRejectsBadUser(t *testing.T) {
	var c Config
	c.setDefaults()
	if _, err := c.SystemPlan(Facts{User: "bad user"}); err == nil || !strings.Contains(err.Error(), "instance_user") {
		t.Fatalf("want an instance_user error, got %v", err)
	}
}

func TestNodePlanNeedsResolvedRelease(t *testing.T) {
	var c Config
	c.setDefaults()
	if _, err := c.NodePlan(Facts{User: "admin", Home: "/home/admin"}); err == nil {
		t.Fatal("NodePlan made a tarball step with no resolved release")
	}
}
