package primal

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
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
		{"release key missing", map[string]interface{}{"node_release_keys": []string{"testdata/mirror-key.asc", "testdata/nope.asc"}},
			[]string{"node_release_keys[1]: open testdata/nope.asc: no such file"}},
		{"release key not a key", map[string]interface{}{"node_release_keys": []string{"testdata/ca.pem"}},
			[]string{"node_release_keys[0]: testdata/ca.pem: not OpenPGP data"}},
		{"release keys with nvm", map[string]interface{}{"node_installer": "nvm", "node_release_keys": []string{"testdata/mirror-key.asc"}, "node_release_keys_only": true},
			[]string{`node_release_keys: applies only to node_installer = "tarball"`, `node_release_keys_only: applies only to node_installer = "tarball"`}},
		{"release keys unused", map[string]interface{}{"verify_node_signature": false, "node_release_keys": []string{"testdata/mirror-key.asc"}},
			[]string{"node_release_keys: has no use with verify_node_signature = false"}},
		{"only no keys", map[string]interface{}{"node_release_keys_only": true},
			[]string{"node_release_keys_only: needs node_release_keys"}},
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

const mirrorKey = "0F63827A818253BB551BB35F70ADCDA8EB47C401" // testdata/mirror-key.asc

// TestTrustedKeys: by default the shipped Node.js release keys, with
// node_release_keys added or, with node_release_keys_only, alone; none
// when signatures are not verified, which every build then warns about.
func TestTrustedKeys(t *testing.T) {
	fprs := func(c *Config) string {
		var s []string
		for _, k := range c.TrustedKeys() {
			s = append(s, k.Fingerprint)
		}
		return strings.Join(s, " ")
	}
	c := prepare(t, map[string]interface{}{})
	if !*c.VerifyNodeSignature || len(c.TrustedKeys()) != 29 || !strings.Contains(fprs(c), "8FCCA13FEF1D0C2E91008E09770F7A9A5AE15600") {
		t.Errorf("default: verify %v, keys %s; want the 29 Node.js release keys", *c.VerifyNodeSignature, fprs(c))
	}
	if w := c.SignatureWarning(); w != "" {
		t.Errorf("a verifying build warns: %q", w)
	}
	c = prepare(t, map[string]interface{}{"node_release_keys": []string{"testdata/mirror-key.asc"}})
	if got := fprs(c); len(c.TrustedKeys()) != 30 || !strings.HasSuffix(got, mirrorKey) {
		t.Errorf("with node_release_keys: %s; want the release keys and %s", got, mirrorKey)
	}
	c = prepare(t, map[string]interface{}{"node_release_keys": []string{"testdata/mirror-key.asc"}, "node_release_keys_only": true})
	if got := fprs(c); got != mirrorKey {
		t.Errorf("with node_release_keys_only: %s; want %s alone", got, mirrorKey)
	}
	c = prepare(t, map[string]interface{}{"verify_node_signature": false, "node_mirror": "https://mirror.example.test/dist"})
	if len(c.TrustedKeys()) != 0 {
		t.Errorf("verify_node_signature = false still trusts %s", fprs(c))
	}
	if w := c.SignatureWarning(); !strings.Contains(w, "WARNING: verify_node_signature = false") || !strings.Contains(w, "https://mirror.example.test/dist") {
		t.Errorf("verify_node_signature = false: warning %q", w)
	}
	if c := prepare(t, map[string]interface{}{"node_installer": "distro"}); len(c.TrustedKeys()) != 0 || c.SignatureWarning() != "" {
		t.Error("the distro installer has release keys or a signature warning")
	}
}

// TestReleaseKeySecretRefused: a secret key given as a release key fails
// Prepare naming the field, and the error does not show the key.
func TestReleaseKeySecretRefused(t *testing.T) {
	k := gpgtest.NewT(t, "Secret <secret@example.test>")
	out, err := exec.Command("gpg", "--homedir", k.Home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--armor", "--export-secret-keys", k.Fingerprint).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "secret.asc")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	var p Provisioner
	err = p.Prepare(map[string]interface{}{"node_release_keys": []string{f}})
	if err == nil || !strings.Contains(err.Error(), "node_release_keys[0]: "+f+": is a private key: give the public key") {
		t.Fatalf("Prepare with a secret key = %v", err)
	}
	body := strings.Split(string(out), "\n")[3]
	if strings.Contains(err.Error(), body) {
		t.Error("the error shows the secret key")
	}
}
