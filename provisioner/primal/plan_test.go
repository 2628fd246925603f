package primal

import (
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/precache"
)

// goldenFacts stand for what Provision reads from a Debian 12 cloud image.
var goldenFacts = core.Facts{
	User: "node", Group: "node", Home: "/home/node", Machine: "x86_64", Systemd: true,
	Iptables: "iptables v1.8.9 (nf_tables)", Create: true,
	Distro: core.Distro{ID: "debian", Version: "12", Codename: "bookworm", Name: "Debian GNU/Linux 12 (bookworm)"},
}

// ubuntuFacts stand for an Ubuntu 24.04 cloud image with ufw enabled.
var ubuntuFacts = core.Facts{
	User: "node", Group: "node", Home: "/home/node", Machine: "x86_64", Systemd: true,
	Iptables: "iptables v1.8.10 (nf_tables)", Create: true, UFW: true,
	Distro: core.Distro{ID: "ubuntu", Version: "24.04", Codename: "noble", Name: "Ubuntu 24.04.1 LTS"},
}

// goldenNode stands for the release Provision resolves on the mirror
// (SHA256 for verify_node_signature = false).
var goldenNode = nodejs.Tarball{
	Mirror: "https://nodejs.org/dist", Version: "22.12.0", Platform: "linux-x64",
	SHA256: "22982235e1b71fa8850f82edd09cdae7e3f32df1764a9ec298c72d25ef2c164f",
}

// nodeFor is goldenNode as Provision resolves it for c: with the keys its
// signature must be by, or else the sum of the unsigned SHASUMS256.txt.
func nodeFor(c *Config) nodejs.Tarball {
	n := goldenNode
	if n.Keys = c.TrustedKeys(); len(n.Keys) > 0 {
		n.SHA256 = ""
	}
	return n
}

// freshState is a machine node-primal has not run on: node just installed,
// no manifest.
var freshState = precache.State{NodeVersion: "v22.12.0", NpmVersion: "10.9.0"}

var goldenTime = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func prepare(t *testing.T, raw map[string]interface{}) *Config {
	t.Helper()
	var p Provisioner
	if err := p.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	return &p.config
}

// plans are the three plans of one run, for facts f and precache state s.
func plans(t *testing.T, c *Config, f core.Facts, s precache.State) []plan.Plan {
	t.Helper()
	sys, err := c.SystemPlan(f)
	if err != nil {
		t.Fatal(err)
	}
	np, err := c.NodePlan(f, nodeFor(c))
	if err != nil {
		t.Fatal(err)
	}
	return []plan.Plan{sys, np, c.FinishPlan(f, s, goldenTime)}
}

// render is the whole run as text: the prelude once (every plan of a run
// has the same), then the steps of the system, Node.js and finishing plans.
func render(t *testing.T, c *Config, f core.Facts, s precache.State) string {
	t.Helper()
	ps := plans(t, c, f, s)
	var b strings.Builder
	b.WriteString(plan.Plan{Prelude: ps[0].Prelude}.Render())
	for i, p := range ps {
		if p.Prelude != ps[0].Prelude {
			t.Fatalf("plan %d has another prelude", i+1)
		}
		b.WriteString([]string{"######## the system plan\n", "######## then Node.js\n", "######## then the precache and the manifest\n"}[i])
		for j, s := range p.Steps {
			golden.Syntax(t, s.Name, p.Prelude+s.Script)
			b.WriteString(s.Render(j + 1))
		}
	}
	return b.String()
}

// TestPlanGolden renders whole runs and compares them with testdata/*.golden:
// a reviewer reads every script the provisioner will run in one file, and any
// change to a step shows up as a diff. Regenerate with:
// go test ./provisioner/primal -update
func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name           string
		raw            map[string]interface{}
		legacyIptables bool // the machine runs iptables-legacy
		ubuntu         bool // ubuntuFacts
	}{
		{"default", map[string]interface{}{}, false, false},
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
			"node_release_keys":         []string{"testdata/mirror-key.asc"},
			"node_release_keys_only":    true,
		}, false, false},
		{"tarball-unsigned", map[string]interface{}{"verify_node_signature": false, "package_json": ""}, false, false},
		{"nvm-iptables", map[string]interface{}{
			"node_installer":   "nvm",
			"node_version":     "20",
			"nvm_version":      "v0.39.7",
			"firewall_backend": "iptables",
			"ip_forward":       false,
		}, false, false},
		{"auto-legacy-iptables", map[string]interface{}{"package_json": "testdata/app/package.json"}, true, false},
		{"distro-nolockfile", map[string]interface{}{
			"node_installer": "distro",
			"package_json":   "testdata/nolock/package.json",
			"precache_dir":   "/srv/precache",
			"keep_npm_token": true,
		}, false, false},
		// Ubuntu: needrestart told not to prompt, universe checked for
		// graphicsmagick, the redirect in ufw's rules.
		{"ubuntu-ufw", map[string]interface{}{"package_json": "testdata/app/package.json"}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := goldenFacts
			if tc.ubuntu {
				f = ubuntuFacts
			}
			if tc.legacyIptables {
				f.Iptables = "iptables v1.8.9 (legacy)"
			}
			got := render(t, prepare(t, tc.raw), f, freshState)
			if strings.Contains(got, "SECRETtoken") {
				t.Fatal("the rendered plan shows the npm token")
			}
			golden.Check(t, "plan-"+tc.name, got)

			// The count the build numbers its steps with, known after the
			// first plan, is what the three plans hold, hit or miss.
			c := prepare(t, tc.raw)
			for name, state := range map[string]precache.State{"fresh": freshState, "current": currentState(t, c, f)} {
				n := SBOMSteps // written after the plans
				ps := plans(t, c, f, state)
				for _, p := range ps {
					n += len(p.Steps)
				}
				if want := c.StepCount(ps[0]); n != want {
					t.Errorf("%s machine: the plans hold %d steps; StepCount says %d", name, n, want)
				}
			}
		})
	}
}

// currentState is the machine after a first run with c: its manifest, node
// and node_modules as that run left them.
func currentState(t *testing.T, c *Config, f core.Facts) precache.State {
	t.Helper()
	fin := c.FinishPlan(f, freshState, goldenTime)
	m, err := precache.ParseManifest(fin.Steps[len(fin.Steps)-1].Files[0].Content)
	if err != nil {
		t.Fatal(err)
	}
	return precache.State{Manifest: m, NodeModules: true, NodeVersion: freshState.NodeVersion, NpmVersion: freshState.NpmVersion}
}

func TestPlanStepNames(t *testing.T) {
	c := prepare(t, map[string]interface{}{"package_json": "testdata/app/package.json"})
	var names []string
	for _, p := range plans(t, c, goldenFacts, freshState) {
		for _, s := range p.Steps {
			names = append(names, s.Name)
		}
	}
	want := []string{
		"instance user node (a system account without login, password or sudo, made if missing)",
		"wait for the dpkg lock",
		"apt-get update",
		"install base packages",
		"install nginx",
		"enable nginx at boot",
		"nginx logs owned by root:adm, not the app's user",
		"persist kernel settings in /etc/sysctl.d/60-node-primal.conf",
		"redirect :80 → :8080 (nftables, persisted)",
		"install Node.js installer prerequisites",
		"install Node.js v22.12.0 (linux-x64, from https://nodejs.org/dist)",
		"precache production dependencies in /home/node/app/precache (miss: no manifest at /etc/node-primal/manifest.json), then verify their registry signatures",
		"clean apt's package cache",
		"record what this image holds in /etc/node-primal/manifest.json",
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("steps = %q\nwant    %q", names, want)
	}
}

// TestRerunKeepsCurrentPrecache: on a rerun whose inputs did not change,
// the manifest of the first run makes the precache current, and the
// finishing plan installs nothing; any one input changed makes it a miss
// that names the field.
func TestRerunKeepsCurrentPrecache(t *testing.T) {
	c := prepare(t, map[string]interface{}{"package_json": "testdata/app/package.json"})
	first := c.FinishPlan(goldenFacts, freshState, goldenTime)
	written := first.Steps[len(first.Steps)-1].Files[0]
	if written.Path != precache.ManifestPath {
		t.Fatalf("the last step writes %s; want the manifest", written.Path)
	}
	m, err := precache.ParseManifest(written.Content)
	if err != nil {
		t.Fatal(err)
	}
	if m.InstanceUser != "node" || m.PublicPort != 80 || m.NginxPort != 8080 || m.NodeVersion != "v22.12.0" ||
		m.Precache == nil || m.Precache.Lockfile != "package-lock.json" || len(m.Precache.LockfileSHA256) != 64 {
		t.Errorf("manifest = %+v", m)
	}
	rerun := precache.State{Manifest: m, NodeModules: true, NodeVersion: "v22.12.0", NpmVersion: "10.9.0"}
	for _, s := range c.FinishPlan(goldenFacts, rerun, goldenTime).Steps {
		if strings.HasPrefix(s.Name, "precache production dependencies") && (len(s.Files) > 0 || strings.Contains(s.Script, "npm") || !strings.HasSuffix(s.Name, "): nothing to install")) {
			t.Errorf("a rerun with the same inputs installs the precache again: %q", s.Name)
		}
	}
	again := c.FinishPlan(goldenFacts, rerun, goldenTime.Add(time.Hour)).Steps
	if got := again[len(again)-1].Files[0].Content; string(got) != string(written.Content) {
		t.Errorf("a rerun an hour later rewrites the manifest:\n%s\nwas\n%s", got, written.Content)
	}
	newer := rerun
	newer.NodeVersion = "v22.13.0"
	steps := c.FinishPlan(goldenFacts, newer, goldenTime).Steps
	if !strings.Contains(steps[0].Name, "miss: node_version: image v22.12.0, build v22.13.0") {
		t.Errorf("a new node does not reinstall the precache, naming node_version: %q", steps[0].Name)
	}
}

func TestNodePlanNeedsResolvedRelease(t *testing.T) {
	c := prepare(t, map[string]interface{}{})
	if _, err := c.NodePlan(goldenFacts, nodejs.Tarball{}); err == nil {
		t.Fatal("NodePlan made a tarball step with no resolved release")
	}
}
