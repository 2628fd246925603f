package carnivore

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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
		c.NginxWorkers != 4 || c.NginxPort != 8080 || c.PublicPort != 80 || c.ServiceManager != "auto" ||
		strings.Join(c.ServerName, ",") != "_" || strings.Join(c.Exclude, ",") != ".git,node_modules" ||
		c.HealthPath != "/" || c.HealthStatus != 200 || c.HealthTimeout.String() != "1m0s" {
		t.Errorf("defaults = %+v", c)
	}
	if c.lockfileName != "package-lock.json" || len(c.lockfileSHA) != 64 {
		t.Errorf("lockfile = %q %q; want the example app's", c.lockfileName, c.lockfileSHA)
	}
	if c.serviceName() != "example-production" {
		t.Errorf("service name = %q", c.serviceName())
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
		{"static root absolute", base(map[string]interface{}{"static_root": "/etc"}), []string{"static_root:"}},
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
	pl, err := p.config.Plan(Facts{User: "admin", Group: "admin", Home: "/home/admin"})
	if err != nil {
		t.Fatal(err)
	}
	if r := pl.Render(); strings.Contains(r, "s3cret") {
		t.Errorf("the rendered plan shows the env file:\n%s", r)
	}
	if s := strings.Join(p.config.secrets(), ","); !strings.Contains(s, "s3cret-value") || !strings.Contains(s, "other-s3cret") {
		t.Errorf("secrets = %q; want both values", s)
	}
}

// TestPlanGolden compares whole rendered plans with testdata/*.golden.
// Regenerate with: go test ./provisioner/carnivore -update
func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
	}{
		{"default", base(nil)},
		{"custom", base(map[string]interface{}{
			"environment": "staging", "server_name": []string{"example.test", "*.example.test"},
			"nginx_workers": 0, "app_port": 4000, "service_manager": "sysvinit", "site_conf": "testdata/site.conf",
			"env_file": "../../example/env/production.json", "npm_registry": "https://npm.example.test/",
			"health_path": "/healthz", "health_status": 204, "health_timeout": "2m", "precache_dir": "/srv/precache",
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			if err := p.Prepare(tc.raw); err != nil {
				t.Fatal(err)
			}
			pl, err := p.config.Plan(Facts{User: "admin", Group: "admin", Home: "/home/admin"})
			if err != nil {
				t.Fatal(err)
			}
			// The archive description names the local source path: make it stable.
			got := strings.ReplaceAll(pl.Render(), app, "example/app")
			path := filepath.Join("testdata", "plan-"+tc.name+".golden")
			if *update {
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}
