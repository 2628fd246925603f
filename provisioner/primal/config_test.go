package primal

import (
	"strings"
	"testing"
	"time"
)

func TestPrepareDefaults(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(map[string]interface{}{}); err != nil {
		t.Fatalf("Prepare with no settings: %v", err)
	}
	c := p.config
	if strings.Join(c.Packages, " ") != "git make g++ graphicsmagick curl" {
		t.Errorf("default packages = %v; want the original recipe's", c.Packages)
	}
	if c.DpkgLockTimeout != 10*time.Minute {
		t.Errorf("default dpkg_lock_timeout = %s; want 10m", c.DpkgLockTimeout)
	}
	if c.InstanceUser != "node" {
		t.Errorf("instance_user = %q; want the dedicated account node, not the communicator's (sudo) user", c.InstanceUser)
	}
	if c.NodeInstaller != "tarball" || c.NodeVersion != "lts" || c.NodeMirror != "https://nodejs.org/dist" || c.NvmVersion != "v0.40.1" {
		t.Errorf("node defaults = %q %q %q %q", c.NodeInstaller, c.NodeVersion, c.NodeMirror, c.NvmVersion)
	}
	if *c.IPForward || c.PublicPort != 80 || c.NginxPort != 8080 || c.FirewallBackend != "auto" {
		t.Errorf("network defaults = %v %d %d %q", *c.IPForward, c.PublicPort, c.NginxPort, c.FirewallBackend)
	}
}

func TestPrepareFindsLockfileNextToPackageJSON(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(map[string]interface{}{"package_json": "testdata/app/package.json"}); err != nil {
		t.Fatal(err)
	}
	if p.config.Lockfile != "testdata/app/package-lock.json" || len(p.config.lockfile) == 0 {
		t.Errorf("lockfile = %q (%d bytes); want the sibling package-lock.json", p.config.Lockfile, len(p.config.lockfile))
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	var p Provisioner
	err := p.Prepare(map[string]interface{}{"npm_token": "s3cret\n"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want an npm_token error that does not show the token, got %v", err)
	}
}

func TestPrepareValidation(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
		// every substring must appear in the error; nil means no error
		want []string
	}{
		{"valid everything", map[string]interface{}{
			"instance_user":             "admin",
			"packages":                  []string{"git", "curl=7.88.1-10+deb12u8", "nginx/bookworm-backports"},
			"extra_packages":            []string{"htop"},
			"tcp_slow_start_after_idle": true,
			"sysctl":                    map[string]string{"net.core.somaxconn": "1024"},
			"dpkg_lock_timeout":         "90s",
		}, nil},
		{"user with shell characters", map[string]interface{}{"instance_user": "admin; rm -rf /"},
			[]string{"instance_user:", "is not a user name"}},
		{"root user", map[string]interface{}{"instance_user": "root"},
			[]string{"instance_user: must not be root"}},
		{"uppercase user", map[string]interface{}{"instance_user": "Admin"},
			[]string{"instance_user:"}},
		{"package injection", map[string]interface{}{"packages": []string{"git", "curl$(id)"}},
			[]string{"packages[1]:", `"curl$(id)" is not a Debian package name`}},
		{"package with space", map[string]interface{}{"extra_packages": []string{"a b"}},
			[]string{"extra_packages[0]:"}},
		{"option as package", map[string]interface{}{"extra_packages": []string{"--allow-unauthenticated"}},
			[]string{"extra_packages[0]:"}},
		{"bad sysctl key", map[string]interface{}{"sysctl": map[string]string{"net/ipv4": "1"}},
			[]string{"sysctl:", `"net/ipv4" is not a sysctl key`}},
		{"sysctl value with newline", map[string]interface{}{"sysctl": map[string]string{"net.core.somaxconn": "1\nkernel.panic = 1"}},
			[]string{`sysctl["net.core.somaxconn"]:`, "is not a sysctl value"}},
		{"negative timeout", map[string]interface{}{"dpkg_lock_timeout": "-1s"},
			[]string{"dpkg_lock_timeout: must not be negative"}},
		{"bad installer", map[string]interface{}{"node_installer": "brew"},
			[]string{`node_installer: "brew" is not one of tarball, nvm, distro`}},
		{"bad node version", map[string]interface{}{"node_version": "22.x; rm -rf /"},
			[]string{"node_version:", "is not a Node.js version"}},
		{"distro with a version", map[string]interface{}{"node_installer": "distro", "node_version": "22"},
			[]string{"node_version: cannot be chosen"}},
		{"mirror not a URL", map[string]interface{}{"node_mirror": "ftp://x/'y"},
			[]string{"node_mirror:"}},
		{"bad nvm version", map[string]interface{}{"nvm_version": "latest"},
			[]string{"nvm_version:"}},
		{"ports", map[string]interface{}{"public_port": 70000, "nginx_port": -1},
			[]string{"public_port: 70000 is not a TCP port", "nginx_port: -1 is not a TCP port"}},
		{"same ports", map[string]interface{}{"public_port": 8080},
			[]string{"nginx_port: must differ from public_port"}},
		{"bad backend", map[string]interface{}{"firewall_backend": "firewalld"},
			[]string{"firewall_backend:"}},
		{"missing package.json", map[string]interface{}{"package_json": "testdata/nope/package.json"},
			[]string{"package_json:", "no such file"}},
		{"package.json not JSON", map[string]interface{}{"package_json": "testdata/ca.pem"},
			[]string{"package_json: testdata/ca.pem is not a JSON object"}},
		{"lockfile badly named", map[string]interface{}{"package_json": "testdata/app/package.json", "lockfile": "testdata/app/package.json"},
			[]string{"lockfile:", "must be named npm-shrinkwrap.json or package-lock.json"}},
		{"lockfile without package.json", map[string]interface{}{"lockfile": "testdata/app/package-lock.json"},
			[]string{"lockfile: needs package_json"}},
		{"precache dir relative", map[string]interface{}{"precache_dir": "app/precache"},
			[]string{"precache_dir:"}},
		{"precache dir traversal", map[string]interface{}{"precache_dir": "/srv/../etc"},
			[]string{"precache_dir:"}},
		{"token without registry", map[string]interface{}{"npm_token": "abc"},
			[]string{"npm_token: needs npm_registry"}},
		{"token with newline", map[string]interface{}{"npm_registry": "https://r.example.test/", "npm_token": "abc\nregistry=https://evil"},
			[]string{"npm_token: contains characters"}},
		{"proxy not a URL", map[string]interface{}{"https_proxy": "proxy:3128"},
			[]string{"https_proxy:"}},
		{"no_proxy injection", map[string]interface{}{"no_proxy": "a;b"},
			[]string{"no_proxy:"}},
		{"CA not PEM", map[string]interface{}{"ca_certificates": []string{"testdata/app/package.json"}},
			[]string{"ca_certificates[0]: testdata/app/package.json is not a PEM certificate"}},
		{"every error at once", map[string]interface{}{
			"instance_user":     "x y",
			"packages":          []string{"BAD"},
			"dpkg_lock_timeout": "-5m",
		}, []string{"instance_user:", "packages[0]:", "dpkg_lock_timeout:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			err := p.Prepare(tc.raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got: %v", err)
				}
				return
			}
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

func TestPrepareRejectsUnknownField(t *testing.T) {
	var p Provisioner
	err := p.Prepare(map[string]interface{}{"instance_usr": "admin"})
	if err == nil || !strings.Contains(err.Error(), "instance_usr") {
		t.Fatalf("want an error naming the unknown key instance_usr, got %v", err)
	}
}
