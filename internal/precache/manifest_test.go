package precache

import (
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/npmaudit"
)

var current = Manifest{
	Format: 1, PluginVersion: "0.1.0", Created: "2026-11-30T09:00:00Z",
	InstanceUser: "admin", PublicPort: 80, NginxPort: 8080, NodeVersion: "v22.12.0", NpmVersion: "10.9.0",
	Precache: &Contents{Dir: "/home/admin/app/precache", Lockfile: "package-lock.json", LockfileSHA256: "aaa", PackageJSONSHA256: "ppp"},
}

var want = Want{Dir: "/home/admin/app/precache", Lockfile: "package-lock.json", LockfileSHA256: "aaa", PackageJSONSHA256: "ppp"}

func TestManifestRoundTrip(t *testing.T) {
	m, err := ParseManifest(current.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if *m.Precache != *current.Precache || m.NodeVersion != current.NodeVersion || m.NginxPort != 8080 {
		t.Errorf("round trip gave %+v", m)
	}
}

func TestParseManifestRefuses(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"not JSON":     {`"lockfile_sha256": "aaa"`, "is not a node-primal manifest"},
		"no format":    {`{"node_version": "v22.12.0"}`, "has no format version"},
		"newer format": {`{"format": 2}`, "has format 2, newer than this plugin reads (1)"},
	} {
		if _, err := ParseManifest([]byte(c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want %q", name, err, c.want)
		}
	}
}

// TestCheck is the one hit/miss decision, for every way a precache can be
// out of date; each miss names what differed.
func TestCheck(t *testing.T) {
	with := func(f func(m *Manifest)) *Manifest {
		m := current
		c := *current.Precache
		m.Precache = &c
		f(&m)
		return &m
	}
	cases := []struct {
		name  string
		state State
		want  Want
		hit   bool
		says  string
	}{
		{"same inputs", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.12.0"}, want, true,
			"hit: package-lock.json (sha256 aaa) and package.json and node v22.12.0 match /etc/node-primal/manifest.json"},
		{"no manifest", State{NodeModules: true, NodeVersion: "v22.12.0"}, want, false, "miss: no manifest at /etc/node-primal/manifest.json"},
		{"nothing precached", State{Manifest: with(func(m *Manifest) { m.Precache = nil }), NodeVersion: "v22.12.0"}, want, false,
			"miss: node-primal precached no dependencies on this image"},
		{"lockfile changed", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.12.0"},
			Want{Dir: want.Dir, Lockfile: "package-lock.json", LockfileSHA256: "bbb", PackageJSONSHA256: "ppp"}, false,
			"miss: precache.lockfile_sha256: image aaa, build bbb"},
		{"app without lockfile", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.12.0"},
			Want{Dir: want.Dir, PackageJSONSHA256: "ppp"}, false, "miss: precache.lockfile_sha256: image aaa, build (none)"},
		{"package.json changed", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.12.0"},
			Want{Dir: want.Dir, Lockfile: "package-lock.json", LockfileSHA256: "aaa", PackageJSONSHA256: "qqq"}, false,
			"miss: precache.package_json_sha256: image ppp, build qqq"},
		{"another node", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.13.0"}, want, false,
			"miss: node_version: image v22.12.0, build v22.13.0"},
		{"another directory", State{Manifest: &current, NodeModules: true, NodeVersion: "v22.12.0"},
			Want{Dir: "/srv/precache", Lockfile: "package-lock.json", LockfileSHA256: "aaa", PackageJSONSHA256: "ppp"}, false,
			"miss: precache.dir: image /home/admin/app/precache, build /srv/precache"},
		{"node_modules gone", State{Manifest: &current, NodeVersion: "v22.12.0"}, want, false,
			"miss: /home/admin/app/precache/node_modules is missing"},
		{"two fields", State{Manifest: &current, NodeModules: true, NodeVersion: "v20.0.0"},
			Want{Dir: want.Dir, Lockfile: "package-lock.json", LockfileSHA256: "bbb", PackageJSONSHA256: "ppp"}, false,
			"miss: precache.lockfile_sha256: image aaa, build bbb; node_version: image v22.12.0, build v20.0.0"},
	}
	for _, c := range cases {
		v := Check(c.state, c.want)
		if v.Hit != c.hit || v.String() != c.says {
			t.Errorf("%s: Check = %v %q; want %v %q", c.name, v.Hit, v.String(), c.hit, c.says)
		}
	}
}

// TestParseStateIgnoresFormatting: the verdict comes from parsed JSON, so a
// manifest with other whitespace, key order or line endings decides the
// same.
func TestParseStateIgnoresFormatting(t *testing.T) {
	indented := string(current.Marshal())
	for name, text := range map[string]string{
		"as written": indented,
		"compact": `{"precache":{"package_json_sha256":"ppp","lockfile_sha256":"aaa","lockfile":"package-lock.json",` +
			`"dir":"/home/admin/app/precache"},"node_version":"v22.12.0","format":1}`,
		"tabs and CRLF": strings.ReplaceAll(strings.ReplaceAll(indented, "  ", "\t"), "\n", "\r\n"),
		"four spaces":   strings.ReplaceAll(strings.ReplaceAll(indented, "  ", "    "), `": `, `" : `),
	} {
		s, err := ParseState("node=v22.12.0\nnpm=10.9.0\nnode_modules=yes\n--- manifest\n" + text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v := Check(s, want); !v.Hit {
			t.Errorf("%s: %s; want a hit", name, v)
		}
	}
	s, err := ParseState("node=\nnpm=\nnode_modules=no\n--- manifest\n")
	if err != nil || s.Manifest != nil || s.NodeModules {
		t.Errorf("a machine without a manifest: %+v, %v", s, err)
	}
}

func TestInstallAndRecordSteps(t *testing.T) {
	spec := Spec{User: "admin", Home: "/home/admin", Dir: "/home/admin/app/precache",
		PackageJSON: []byte(`{"dependencies":{"ms":"2.1.3"}}`), LockfileName: "package-lock.json", Lockfile: []byte(`{"lockfileVersion":3}`),
		Registry: "https://npm.example.test/", Token: "npm_SECRETtoken", AuditSignatures: npmaudit.Auto}
	noLock := spec
	noLock.LockfileName, noLock.Lockfile, noLock.Token, noLock.AuditSignatures = "", nil, "", npmaudit.Off
	kept := spec
	kept.KeepToken, kept.AuditSignatures = true, npmaudit.Require
	m := current
	m.Created = Now(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	golden.Steps(t, "steps",
		Install(spec, "miss: no manifest at "+ManifestPath),
		Install(noLock, "miss: node-primal precached no dependencies on this image"),
		Install(kept, "miss: node_version: image v20.0.0, build v22.12.0"),
		Record(m),
	)
	for _, s := range []Spec{spec, kept} {
		st := Install(s, "miss")
		if r := st.Render(1); strings.Contains(r, "SECRETtoken") {
			t.Errorf("the rendered step shows the token:\n%s", r)
		}
	}
	if got := Install(spec, "x").Script; !strings.Contains(got, "trap 'rm -f /run/node-primal/npmrc' EXIT") {
		t.Error("a token not kept is not removed from the tmpfs at the end")
	}
	if got := Install(kept, "x").Script; strings.Contains(got, "trap") {
		t.Error("a kept token is removed")
	}
	// The signatures are verified inside the install's step, while the
	// token is still there, and the trap removing it runs after.
	got := Install(spec, "x").Script
	if i, j := strings.Index(got, "npm_deps ci"), strings.Index(got, "npm audit signatures"); i < 0 || j < i {
		t.Error("npm audit signatures does not follow the install in its step")
	}
	if got := Install(noLock, "x"); strings.Contains(got.Script, "npm audit") || strings.Contains(got.Name, "signatures") {
		t.Error("npm_audit_signatures = off still verifies")
	}
}
