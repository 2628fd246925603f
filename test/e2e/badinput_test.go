//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badInput is one mistake a user can make in one component's block, and
// the field `packer validate` must name for it.
type badInput struct {
	block string // "node-primal", "node-carnivore", "node-ami" or "node-fingerprint"
	body  string // the block's settings
	field string // the error must start with this field
	says  string // and say this
}

// badInputs are refused by `packer validate`, before any machine starts,
// each with an error naming the field.
var badInputs = []badInput{
	// node-primal
	{"node-primal", `instance_user = "Admin"`, "instance_user", "is not a user name"},
	{"node-primal", `instance_user = "root"`, "instance_user", "must not be root"},
	{"node-primal", `packages = ["git", "curl$(id)"]`, "packages[1]", "is not a Debian package name"},
	{"node-primal", `extra_packages = ["--allow-unauthenticated"]`, "extra_packages[0]", "is not a Debian package name"},
	{"node-primal", `sysctl = { "net/ipv4/ip_forward" = "1" }`, "sysctl", "is not a sysctl key"},
	{"node-primal", `sysctl = { "net.core.somaxconn" = "1\nkernel.panic = 1" }`, `sysctl["net.core.somaxconn"]`, "is not a sysctl value"},
	{"node-primal", `dpkg_lock_timeout = "-1m"`, "dpkg_lock_timeout", "must not be negative"},
	{"node-primal", `node_installer = "brew"`, "node_installer", "is not one of tarball, nvm, distro"},
	{"node-primal", `node_version = "22.x; rm -rf /"`, "node_version", "is not a Node.js version"},
	{"node-primal", "node_installer = \"distro\"\nnode_version = \"22\"", "node_version", "cannot be chosen"},
	{"node-primal", `node_mirror = "ftp://mirror.example.test/dist"`, "node_mirror", "is not an http(s) URL"},
	{"node-primal", `nvm_version = "latest"`, "nvm_version", "is not an nvm release tag"},
	{"node-primal", `public_port = 70000`, "public_port", "is not a TCP port"},
	{"node-primal", `nginx_port = 80`, "nginx_port", "must differ from public_port"},
	{"node-primal", `firewall_backend = "firewalld"`, "firewall_backend", "is not one of auto, nftables, iptables, ufw"},
	{"node-primal", `package_json = "example/app/no-such/package.json"`, "package_json", "no such file"},
	{"node-primal", `package_json = "example/app/app.js"`, "package_json", "is not a JSON object"},
	{"node-primal", `lockfile = "example/app/package-lock.json"`, "lockfile", "needs package_json"},
	{"node-primal", "package_json = \"example/app/package.json\"\nlockfile = \"example/app/package.json\"", "lockfile", "must be named"},
	{"node-primal", `precache_dir = "app/precache"`, "precache_dir", "is not a clean absolute path"},
	{"node-primal", `precache_dir = "/etc/precache"`, "precache_dir", "is in the system directory /etc"},
	{"node-primal", `npm_registry = "https://user:S3CRETpw@registry.example.test/"`, "npm_registry", "must not carry credentials"},
	{"node-primal", `node_mirror = "ftp://bob:S3CRETpw@mirror.example.test/dist"`, "node_mirror", "is not an http(s) URL"},
	{"node-primal", `npm_token = "npm_abc"`, "npm_token", "needs npm_registry"},
	{"node-primal", "npm_registry = \"https://registry.example.test/\"\nnpm_token = \"abc\\nregistry=https://evil\"", "npm_token", "contains characters"},
	{"node-primal", `http_proxy = "proxy:3128"`, "http_proxy", "is not an http(s) URL"},
	{"node-primal", `no_proxy = "localhost;reboot"`, "no_proxy", "is not a comma-separated list"},
	{"node-primal", `npm_audit_signatures = "true"`, "npm_audit_signatures", `"true" is not one of auto, require, off`},
	{"node-primal", `ca_certificates = ["example/app/package.json"]`, "ca_certificates[0]", "is not a PEM certificate"},
	{"node-primal", `node_release_keys = ["example/app/no-such-key.asc"]`, "node_release_keys[0]", "no such file"},
	{"node-primal", `node_release_keys = ["example/app/package.json"]`, "node_release_keys[0]", "not OpenPGP data"},
	{"node-primal", "node_installer = \"nvm\"\nnode_release_keys_only = true", "node_release_keys_only", `applies only to node_installer = "tarball"`},
	// node-carnivore (source and app_name are set unless the case is about them)
	{"node-carnivore", `source = "example/app"`, "app_name", "is required"},
	{"node-carnivore", "app_name = \"Pony Foo\"\nsource = \"example/app\"", "app_name", "must be lowercase letters"},
	{"node-carnivore", `app_name = "app"`, "source", "is required"},
	{"node-carnivore", "app_name = \"app\"\nsource = \"example/app/app.js\"", "source", "is not a directory"},
	{"node-carnivore", `environment = "../prod"`, "environment", "must be lowercase letters"},
	{"node-carnivore", `entrypoint = "../outside.js"`, "entrypoint", "is not a relative path inside source"},
	{"node-carnivore", `entrypoint = "server.js"`, "entrypoint", "is not in source"},
	{"node-carnivore", `exclude = ["*.js"]`, "entrypoint", "is left out of the upload by exclude"},
	{"node-carnivore", `exclude = ["[x"]`, "exclude[0]", "is not a valid pattern"},
	{"node-carnivore", `static_root = "."`, "static_root", "is the app's root"},
	{"node-carnivore", `static_root = "/var/www"`, "static_root", "is not a relative path inside source"},
	{"node-carnivore", `server_name = ["example.test", "x; return 302 http://evil"]`, "server_name[1]", "is not a host name"},
	{"node-carnivore", `nginx_workers = -1`, "nginx_workers", "is not a number of workers"},
	{"node-carnivore", `app_port = 8080`, "app_port", "must differ from nginx_port"},
	{"node-carnivore", `service_manager = "upstart"`, "service_manager", "is not one of auto, systemd, sysvinit"},
	{"node-carnivore", `health_path = "healthz"`, "health_path", "is not a URL path"},
	{"node-carnivore", `health_status = 42`, "health_status", "is not an HTTP status"},
	{"node-carnivore", `health_timeout = "10ms"`, "health_timeout", "must be at least 1s"},
	{"node-carnivore", `env_file = "example/app/app.js"`, "env_file", "is not a JSON object"},
	{"node-carnivore", `site_conf = "example/app/no-such.conf"`, "site_conf", "no such file"},
	{"node-carnivore", `instance_user = "root"`, "instance_user", "must not be root"},
	{"node-carnivore", `npm_audit_signatures = "strict"`, "npm_audit_signatures", `"strict" is not one of auto, require, off`},
	{"node-carnivore", `precache_dir = "/usr/lib/precache"`, "precache_dir", "is in the system directory /usr/lib"},
	{"node-carnivore", `https_proxy = "http://proxy example:3128"`, "https_proxy", ""},
	// node-ami
	{"node-ami", `region = "us-east-1"`, "app_name", "is required unless name is set"},
	{"node-ami", "app_name = \"pony foo\"\nregion = \"us-east-1\"", "app_name", "must be 1-64 letters"},
	{"node-ami", "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\nrole = \"base\"", "role", "must be"},
	{"node-ami", "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\nrole = \"carnivore\"", "environment", "is required when role is"},
	{"node-ami", `app_name = "ponyfoo"`, "region", "is required"},
	{"node-ami", "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\nfingerprint = \"22.12.0\"", "fingerprint", "must be a fingerprint (64 lowercase hex digits"},
	{"node-ami", "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\nfingerprint_parts = { node = \"tarball/22.12.0\" }", "fingerprint_parts", "needs fingerprint"},

	// node-fingerprint: node-primal's checks, under node-primal's names
	{"node-fingerprint", `architecture = "amd64"`, "architecture", `must be one of x86_64, arm64, got "amd64"`},
	{"node-fingerprint", `node_version = "latest"`, "node_version", "is not a Node.js version"},
	{"node-fingerprint", `extra_packages = ["jq; id"]`, "extra_packages[0]", "is not a Debian package name"},
	{"node-fingerprint", `package_json = "example/no-such-app/package.json"`, "package_json", "no such file or directory"},
	{"node-fingerprint", `node_mirror = "https://user:S3CRET@mirror.example.test/dist\"x"`, "node_mirror", "contains spaces, quotes or backslashes"},
}

// TestValidateRefusesEachBadInput runs `packer validate` on one template
// per mistake: each is refused, naming its field, before any machine exists.
func TestValidateRefusesEachBadInput(t *testing.T) {
	if len(badInputs) < 40 {
		t.Fatalf("only %d bad inputs; the table must cover at least 40", len(badInputs))
	}
	dir := t.TempDir()
	for i, c := range badInputs {
		t.Run(fmt.Sprintf("%02d-%s-%s", i+1, c.block, c.field), func(t *testing.T) {
			body := c.body
			if c.block == "node-carnivore" {
				if !strings.Contains(body, "app_name") && c.field != "app_name" {
					body += "\napp_name = \"app\""
				}
				if !strings.Contains(body, "source") && c.field != "source" {
					body += "\nsource = \"example/app\""
				}
			}
			var tpl string
			if name, ok := strings.CutPrefix(c.block, "node-"); ok && (name == "ami" || name == "fingerprint") {
				out := map[string]string{"ami": "id", "fingerprint": "fingerprint"}[name]
				tpl = fmt.Sprintf("data %q \"x\" {\n%s\n}\nsource \"null\" \"x\" { communicator = \"none\" }\nbuild {\n  sources = [\"source.null.x\"]\n  provisioner \"shell-local\" { inline = [\"echo ${data.%s.x.%s}\"] }\n}\n", c.block, body, c.block, out)
			} else {
				tpl = fmt.Sprintf("source \"null\" \"x\" { communicator = \"none\" }\nbuild {\n  sources = [\"source.null.x\"]\n  provisioner %q {\n%s\n  }\n}\n", c.block, body)
			}
			path := filepath.Join(dir, fmt.Sprintf("bad-%02d.pkr.hcl", i+1))
			if err := os.WriteFile(path, []byte(tpl), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runPacker(t, "validate", path)
			if err == nil {
				t.Fatalf("packer validate accepted:\n%s", tpl)
			}
			if strings.Contains(out, "S3CRET") {
				t.Errorf("the output shows a password given in a URL:\n%s", out)
			}
			// Packer wraps long errors: read each "* " bullet as one line.
			named := false
			for _, bullet := range strings.Split(strings.Join(strings.Fields(out), " "), " * ") {
				if i := strings.Index(bullet, c.field+": "); i >= 0 && strings.Contains(bullet[i:], c.says) {
					named = true
				}
			}
			if !named {
				t.Errorf("packer validate's output has no line naming %s and saying %q:\n%s", c.field, c.says, out)
			}
		})
	}
}
