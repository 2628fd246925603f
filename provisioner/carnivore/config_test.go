package carnivore

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/golden"
	"github.com/nodebake/packer-plugin-node/internal/precache"
)

// goldenFacts stand for what Provision reads from a primal image.
var goldenFacts = core.Facts{User: "node", Group: "node", Home: "/home/node", Machine: "x86_64", Systemd: true}

// app is the repository's example app.
var app = filepath.Join("..", "..", "example", "app")

func base(extra map[string]interface{}) map[string]interface{} {
	raw := map[string]interface{}{"app_name": "example", "source": app}
	for k, v := range extra {
		raw[k] = v
	}
	return raw
}

func TestPrepareDefaults(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(base(nil)); err != nil {
		t.Fatal(err)
	}
	c := p.config
	if c.Environment != "production" || c.Entrypoint != "cluster.js" || c.AppPort != 3000 || c.StaticRoot != ".bin/public" ||
		*c.NginxWorkers != 4 || c.NginxPort != 8080 || c.PublicPort != 80 || c.ServiceManager != "auto" ||
		strings.Join(c.ServerName, ",") != "_" || len(c.Exclude) != 0 || strings.Join(c.excludes(), ",") != ".git,node_modules,.env,.npmrc" ||
		c.HealthPath != "/" || c.HealthStatus != 200 || c.HealthTimeout.String() != "1m0s" {
		t.Errorf("defaults = %+v", c)
	}
	if c.deps.Lockfile != "package-lock.json" || len(c.deps.LockfileSHA256) != 64 || len(c.deps.PackageJSONSHA256) != 64 {
		t.Errorf("dependencies = %+v; want the example app's package.json and lockfile", c.deps)
	}
	if c.serviceName() != "example-production" {
		t.Errorf("service name = %q", c.serviceName())
	}
}

// TestNginxWorkersZeroIsAuto: 0 is documented as nginx's `auto`, unset as 4.
func TestNginxWorkersZeroIsAuto(t *testing.T) {
	for raw, want := range map[interface{}]string{0: "auto", 2: "2", nil: "4"} {
		extra := map[string]interface{}{}
		if raw != nil {
			extra["nginx_workers"] = raw
		}
		var p Provisioner
		if err := p.Prepare(base(extra)); err != nil {
			t.Fatal(err)
		}
		if got := p.config.workers(); got != want {
			t.Errorf("nginx_workers = %v gives worker_processes %s; want %s", raw, got, want)
		}
	}
}

func TestPrepareValidation(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{"missing required", map[string]interface{}{}, []string{"app_name: is required", "source: is required"}},
		{"app name injection", base(map[string]interface{}{"app_name": "x; rm -rf /"}), []string{"app_name:"}},
		{"environment with slash", base(map[string]interface{}{"environment": "../prod"}), []string{"environment:"}},
		{"source not a dir", base(map[string]interface{}{"source": "config.go"}), []string{`source: "config.go" is not a directory`}},
		{"entrypoint missing", base(map[string]interface{}{"entrypoint": "server.js"}), []string{"entrypoint: server.js is not in source"}},
		{"entrypoint escapes", base(map[string]interface{}{"entrypoint": "../app/cluster.js"}), []string{"entrypoint:", "is not a relative path"}},
		{"entrypoint excluded", base(map[string]interface{}{"exclude": []string{"*.js"}}), []string{"entrypoint: cluster.js is left out"}},
		{"bad pattern", base(map[string]interface{}{"exclude": []string{"[x"}}), []string{"exclude[0]:"}},
		{"sbom_output in no directory", base(map[string]interface{}{"sbom_output": "testdata/no-such-dir/sbom.json"}), []string{"sbom_output: the directory of testdata/no-such-dir/sbom.json does not exist"}},
		{"sbom_output a directory", base(map[string]interface{}{"sbom_output": "testdata"}), []string{"sbom_output: testdata is a directory"}},
		{"entrypoint in node_modules", base(map[string]interface{}{"entrypoint": "node_modules/x/cluster.js"}), []string{"entrypoint: node_modules/x/cluster.js is left out"}},
		{"static root absolute", base(map[string]interface{}{"static_root": "/etc"}), []string{"static_root:"}},
		{"static root is the app", base(map[string]interface{}{"static_root": "."}), []string{`static_root: "." is the app's root`}},
		{"static root is the app, spelled otherwise", base(map[string]interface{}{"static_root": ".bin/.."}), []string{"static_root:"}},
		{"static root is the app, with a slash", base(map[string]interface{}{"static_root": "./"}), []string{"static_root:"}},
		{"server name injection", base(map[string]interface{}{"server_name": []string{"ok.example", "x; return 302 http://evil"}}), []string{"server_name[1]:"}},
		{"server name uppercase", base(map[string]interface{}{"server_name": []string{"Example.COM"}}), []string{"server_name[0]:"}},
		{"workers", base(map[string]interface{}{"nginx_workers": -2}), []string{"nginx_workers:"}},
		{"ports", base(map[string]interface{}{"app_port": 8080}), []string{"app_port: must differ from nginx_port"}},
		{"port range", base(map[string]interface{}{"public_port": 0, "nginx_port": 99999}), []string{"nginx_port: 99999"}},
		{"service manager", base(map[string]interface{}{"service_manager": "upstart"}), []string{"service_manager:"}},
		{"root user", base(map[string]interface{}{"instance_user": "root"}), []string{"instance_user: must not be root"}},
		{"health path", base(map[string]interface{}{"health_path": "healthz"}), []string{"health_path:"}},
		{"health status", base(map[string]interface{}{"health_status": 42}), []string{"health_status:"}},
		{"health timeout", base(map[string]interface{}{"health_timeout": "10ms"}), []string{"health_timeout:"}},
		{"env file missing", base(map[string]interface{}{"env_file": "testdata/nope.json"}), []string{"env_file:"}},
		{"env file not JSON", base(map[string]interface{}{"env_file": "testdata/site.conf"}), []string{"env_file: testdata/site.conf is not a JSON object"}},
		{"override with unknown field", base(map[string]interface{}{"site_conf": "testdata/bad-site.conf"}), []string{"site_conf:", "NoSuchField"}},
		{"override missing", base(map[string]interface{}{"nginx_conf": "testdata/nope.conf"}), []string{"nginx_conf:"}},
		{"proxy", base(map[string]interface{}{"https_proxy": "proxy:3128"}), []string{"https_proxy:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			err := p.Prepare(tc.raw)
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEnvFileNeverInErrorsOrPlan(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "env.json")
	os.WriteFile(bad, []byte(`{"TOKEN": "s3cret-value" trailing`), 0o600)
	var p Provisioner
	err := p.Prepare(base(map[string]interface{}{"env_file": bad}))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want an env_file error without the content, got %v", err)
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"TOKEN": "s3cret-value", "nested": {"k": ["other-s3cret"]}}`), 0o600)
	if err := p.Prepare(base(map[string]interface{}{"env_file": good})); err != nil {
		t.Fatal(err)
	}
	pl, err := p.config.Plan(goldenFacts, precache.Verdict{})
	if err != nil {
		t.Fatal(err)
	}
	if r := pl.Render(); strings.Contains(r, "s3cret") {
		t.Errorf("the rendered plan shows the env file:\n%s", r)
	}
	if s := strings.Join(p.config.Secrets(), ","); !strings.Contains(s, "s3cret-value") || !strings.Contains(s, "other-s3cret") {
		t.Errorf("secrets = %q; want both values", s)
	}
}

// primalManifest is what node-primal records when it precached the
// example app with the defaults.
func primalManifest(t *testing.T) *precache.Manifest {
	t.Helper()
	var p Provisioner
	if err := p.Prepare(base(nil)); err != nil {
		t.Fatal(err)
	}
	w := p.config.want(goldenFacts)
	return &precache.Manifest{
		Format: 1, InstanceUser: "node", PublicPort: 80, NginxPort: 8080, NodeVersion: "v22.12.0",
		Precache: &precache.Contents{Dir: w.Dir, Lockfile: w.Lockfile, LockfileSHA256: w.LockfileSHA256, PackageJSONSHA256: w.PackageJSONSHA256},
	}
}

// TestPlanGolden compares whole rendered plans with testdata/*.golden: a
// precache hit on systemd, and a miss with custom settings on sysvinit.
// Regenerate with: go test ./provisioner/carnivore -update
func TestPlanGolden(t *testing.T) {
	hit := precache.State{Manifest: primalManifest(t), NodeModules: true, NodeVersion: "v22.12.0"}
	cases := []struct {
		name    string
		raw     map[string]interface{}
		state   precache.State
		systemd bool
	}{
		{"default", base(nil), hit, true},
		{"custom", base(map[string]interface{}{
			"environment": "staging", "server_name": []string{"example.test", "*.example.test"},
			"nginx_workers": 0, "app_port": 4000, "service_manager": "auto", "site_conf": "testdata/site.conf",
			"env_file": "../../example/env/production.json", "npm_registry": "https://npm.example.test/",
			"health_path": "/healthz", "health_status": 204, "health_timeout": "2m", "precache_dir": "/srv/precache",
		}), precache.State{NodeVersion: "v22.12.0"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			if err := p.Prepare(tc.raw); err != nil {
				t.Fatal(err)
			}
			f := goldenFacts
			f.Systemd = tc.systemd
			pl, err := p.config.Plan(f, precache.Check(tc.state, p.config.want(f)))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range pl.Steps {
				golden.Syntax(t, s.Name, pl.Prelude+s.Script)
			}
			// The archive description names the local source path: make it stable.
			golden.Check(t, "plan-"+tc.name, strings.ReplaceAll(pl.Render(), app, "example/app"))
		})
	}
}

// TestPrecacheVerdictIgnoresManifestFormatting: the hit/miss decision
// parses the manifest; the same manifest written with other whitespace
// (or keys in another order) decides the same.
func TestPrecacheVerdictIgnoresManifestFormatting(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(base(nil)); err != nil {
		t.Fatal(err)
	}
	m := primalManifest(t)
	compact := `{"precache":{"package_json_sha256":"` + m.Precache.PackageJSONSHA256 + `","lockfile_sha256":"` + m.Precache.LockfileSHA256 +
		`","lockfile":"package-lock.json","dir":"/home/node/app/precache"},"node_version":"v22.12.0","nginx_port":8080,"public_port":80,"instance_user":"node","format":1}`
	tabs := strings.ReplaceAll(string(m.Marshal()), "  ", "\t")
	crlf := strings.ReplaceAll(string(m.Marshal()), "\n", "\r\n")
	for name, text := range map[string]string{"indented": string(m.Marshal()), "compact": compact, "tabs": tabs, "crlf": crlf} {
		s, err := precache.ParseState("node=v22.12.0\nnpm=10.9.0\nnode_modules=yes\n--- manifest\n" + text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v := precache.Check(s, p.config.want(goldenFacts)); !v.Hit {
			t.Errorf("%s manifest: %s; want a hit", name, v)
		}
	}
}

// TestManifestDisagreementNamesTheField: a build whose ports or user differ
// from what node-primal recorded fails, naming each setting.
func TestManifestDisagreementNamesTheField(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(base(map[string]interface{}{"nginx_port": 8081, "precache_dir": "/srv/precache"})); err != nil {
		t.Fatal(err)
	}
	m := primalManifest(t)
	m.PublicPort = 8000
	f := goldenFacts
	f.User = "deploy"
	err := p.config.CheckManifest(m, f, p.config.PrecacheDirFor(f.Home))
	if err == nil {
		t.Fatal("no error for a build that disagrees with the image")
	}
	for _, want := range []string{
		`instance_user: node-primal made this image with instance_user = node`,
		`public_port: node-primal made this image with public_port = 8000`, "this build has 80",
		`nginx_port: node-primal made this image with nginx_port = 8080`, "this build has 8081",
		`precache_dir: node-primal precached the dependencies in /home/node/app/precache`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if err := p.config.CheckManifest(primalManifest(t), goldenFacts, "/srv/precache"); err == nil || strings.Contains(err.Error(), "public_port") {
		t.Errorf("only precache_dir differs, got %v", err)
	}
}

// TestSecretsAreTheEnvFilesSecrets: numbers are secrets too; values the
// build shows anyway (NODE_ENV, the port) are not scrubbed from the log.
func TestSecretsAreTheEnvFilesSecrets(t *testing.T) {
	env := filepath.Join(t.TempDir(), "env.json")
	os.WriteFile(env, []byte(`{"NODE_ENV": "production", "PORT": 3000, "PIN": 904417, "DB": {"PASSWORD": "hunter22"}, "ON": true}`), 0o600)
	var p Provisioner
	if err := p.Prepare(base(map[string]interface{}{"env_file": env})); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range p.config.Secrets() {
		got[s] = true
	}
	for _, s := range []string{"904417", "hunter22"} {
		if !got[s] {
			t.Errorf("secret %q is not scrubbed (secrets: %v)", s, got)
		}
	}
	for _, s := range []string{"production", "3000", "true"} {
		if got[s] {
			t.Errorf("%q, which the build shows anyway, is scrubbed everywhere", s)
		}
	}
}

// TestSourceLinkOutsideIsRefused: a link in source that points outside it
// is refused at validate time, naming the link.
func TestSourceLinkOutsideIsRefused(t *testing.T) {
	src := copyExampleApp(t)
	if err := os.Symlink("/etc/hostname", filepath.Join(src, "hostname")); err != nil {
		t.Fatal(err)
	}
	var p Provisioner
	err := p.Prepare(base(map[string]interface{}{"source": src}))
	if err == nil || !strings.Contains(err.Error(), "source: hostname is a link to /etc/hostname, outside the app") {
		t.Errorf("want a source error naming the link, got %v", err)
	}
}

// TestSymlinkedSourceUploadsItsTarget: source may be a link to the build.
func TestSymlinkedSourceUploadsItsTarget(t *testing.T) {
	src := copyExampleApp(t)
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	var p Provisioner
	if err := p.Prepare(base(map[string]interface{}{"source": link})); err != nil {
		t.Fatal(err)
	}
	pl, err := p.config.Plan(goldenFacts, precache.Verdict{})
	if err != nil {
		t.Fatal(err)
	}
	if d := pl.Steps[1].Stdin.Describe; !strings.Contains(d, ", 5 files,") {
		t.Errorf("the upload of a linked source is %q; want the example app's 5 files", d)
	}
}

func copyExampleApp(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", app, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// TestRequirePrecacheHit: with require_precache_hit a miss fails, naming
// what differed; a hit passes; without it a miss passes.
func TestRequirePrecacheHit(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(base(map[string]interface{}{"require_precache_hit": true})); err != nil {
		t.Fatal(err)
	}
	miss := precache.Check(precache.State{}, p.config.want(goldenFacts))
	err := p.config.checkHit(miss)
	if err == nil || !strings.Contains(err.Error(), "require_precache_hit: the primal image's precache does not hold this app's dependencies (miss: no manifest at /etc/node-primal/manifest.json)") {
		t.Errorf("a miss with require_precache_hit: %v", err)
	}
	m := primalManifest(t)
	hit := precache.Check(precache.State{Manifest: m, NodeModules: true, NodeVersion: m.NodeVersion}, p.config.want(goldenFacts))
	if !hit.Hit || p.config.checkHit(hit) != nil {
		t.Errorf("a hit with require_precache_hit: %v, %v", hit, p.config.checkHit(hit))
	}
	p.config.RequirePrecacheHit = false
	if err := p.config.checkHit(miss); err != nil {
		t.Errorf("a miss without require_precache_hit: %v", err)
	}
}
