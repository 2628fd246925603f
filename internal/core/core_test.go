package core

import (
	"strings"
	"testing"
)

func TestParseFacts(t *testing.T) {
	f, err := parseFacts("admin", "home=/home/admin\ngroup=admin\nuid=1000\nmachine=x86_64\nsystemd=yes\niptables=iptables v1.8.9 (nf_tables)\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12 (bookworm)\n", true)
	if err != nil {
		t.Fatal(err)
	}
	bookworm := Distro{ID: "debian", Version: "12", Codename: "bookworm", Name: "Debian GNU/Linux 12 (bookworm)"}
	want := Facts{User: "admin", Group: "admin", Home: "/home/admin", Machine: "x86_64", Systemd: true, Iptables: "iptables v1.8.9 (nf_tables)", Distro: bookworm}
	if f != want {
		t.Errorf("facts = %+v; want %+v", f, want)
	}
	for out, msg := range map[string]string{
		"home=\ngroup=\nuid=\nmachine=x86_64\nsystemd=no\niptables=\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12 (bookworm)\n":                   `instance_user: user "ghost" does not exist on the machine (node-primal makes it`,
		"home=/home/x y\ngroup=ghost\nuid=1001\nmachine=x86_64\nsystemd=no\niptables=\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12 (bookworm)\n": `unusable home "/home/x y"`,
		"home=/root\ngroup=root\nuid=0\nmachine=x86_64\nsystemd=no\niptables=\nos_id=debian\nos_version=12\nos_codename=bookworm\nos_name=Debian GNU/Linux 12 (bookworm)\n":         `user "ghost" has uid 0: it is root by another name`,
	} {
		if _, err := parseFacts("ghost", out, false); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseFacts(%q) error %v; want %q", out, err, msg)
		}
	}
	// node-primal makes a missing user: the facts are the account's to be.
	f, err = parseFacts("node", "home=\ngroup=\nuid=\nmachine=aarch64\nsystemd=yes\niptables=\nos_id=ubuntu\nos_version=24.04\nos_codename=noble\nos_name=Ubuntu 24.04.1 LTS\nufw=yes\n", true)
	want = Facts{User: "node", Group: "node", Home: "/home/node", Machine: "aarch64", Systemd: true, Create: true,
		Distro: Distro{ID: "ubuntu", Version: "24.04", Codename: "noble", Name: "Ubuntu 24.04.1 LTS"}, UFW: true}
	if err != nil || f != want {
		t.Errorf("facts of a user to make = %+v, %v; want %+v", f, err, want)
	}
}

// TestUnsupportedDistroIsRefused: a release the steps are not written
// for is refused before any step runs, naming it and the supported ones.
func TestUnsupportedDistroIsRefused(t *testing.T) {
	for out, want := range map[string]string{
		"home=/home/ubuntu\ngroup=ubuntu\nuid=1000\nos_id=ubuntu\nos_version=20.04\nos_name=Ubuntu 20.04.6 LTS\n": "this machine runs Ubuntu 20.04.6 LTS (ID=ubuntu VERSION_ID=20.04); node-primal and node-carnivore support debian 12 (bookworm), debian 13 (trixie), ubuntu 22.04 (jammy), ubuntu 24.04 (noble)",
		"home=/home/admin\ngroup=admin\nuid=1000\nos_id=\nos_version=\nos_name=\n":                                "this machine runs an unknown distribution (no /etc/os-release)",
		"home=/home/ec2-user\ngroup=ec2-user\nuid=1000\nos_id=amzn\nos_version=2023\nos_name=Amazon Linux 2023\n": "Amazon Linux 2023 (ID=amzn VERSION_ID=2023)",
	} {
		if _, err := parseFacts("u", out, false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFacts error %v; want %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		c    Config
		want []string // substrings of the errors; none means valid
	}{
		{"defaults", Config{}, nil},
		{"everything set", Config{InstanceUser: "app", PublicPort: 8000, NginxPort: 8081, PrecacheDir: "/srv/precache",
			NpmRegistry: "https://npm.example.test/", HTTPProxy: "http://proxy:3128", HTTPSProxy: "http://proxy:3128", NoProxy: "localhost,10.0.0.0/8"}, nil},
		{"root", Config{InstanceUser: "root"}, []string{"instance_user: must not be root"}},
		{"user injection", Config{InstanceUser: "a;b"}, []string{"instance_user:"}},
		{"ports", Config{PublicPort: 70000, NginxPort: -1}, []string{"public_port: 70000 is not a TCP port", "nginx_port: -1 is not a TCP port"}},
		{"same ports", Config{PublicPort: 8080}, []string{"nginx_port: must differ from public_port (8080)"}},
		{"relative precache", Config{PrecacheDir: "app/precache"}, []string{"precache_dir:"}},
		{"precache in /etc", Config{PrecacheDir: "/etc"}, []string{"precache_dir: /etc is in the system directory /etc"}},
		{"precache under /usr/lib", Config{PrecacheDir: "/usr/lib/node"}, []string{"precache_dir: /usr/lib/node is in the system directory /usr/lib"}},
		{"precache is /", Config{PrecacheDir: "/"}, []string{"precache_dir:"}},
		{"precache is /var", Config{PrecacheDir: "/var"}, []string{"precache_dir: /var is a system directory"}},
		{"precache is /home", Config{PrecacheDir: "/home"}, []string{"precache_dir: /home is a system directory"}},
		{"precache in /run (gone at boot)", Config{PrecacheDir: "/run/precache"}, []string{"precache_dir:"}},
		{"precache in /srv/app is fine", Config{PrecacheDir: "/srv/app/precache"}, nil},
		{"precache in /var/lib/app is fine", Config{PrecacheDir: "/var/lib/app/precache"}, nil},
		{"registry with credentials", Config{NpmRegistry: "https://u:p@r.test/"}, []string{"npm_registry:"}},
		{"proxy not a URL", Config{HTTPSProxy: "proxy:3128"}, []string{"https_proxy:"}},
		{"no_proxy injection", Config{NoProxy: "a;b"}, []string{"no_proxy:"}},
	}
	for _, tc := range cases {
		c := tc.c
		c.SetDefaults()
		var errs Errors
		c.Validate(errs.Add)
		err := errs.Err()
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error; want %q", tc.name, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestEnvAndPrecacheDir(t *testing.T) {
	c := Config{HTTPSProxy: "http://proxy:3128", NoProxy: "localhost", NpmRegistry: "https://r.test/"}
	env := c.Env()
	for k, v := range map[string]string{"https_proxy": "http://proxy:3128", "HTTPS_PROXY": "http://proxy:3128",
		"no_proxy": "localhost", "NO_PROXY": "localhost", "npm_config_registry": "https://r.test/"} {
		if env[k] != v {
			t.Errorf("Env()[%s] = %q; want %q", k, env[k], v)
		}
	}
	if _, ok := env["http_proxy"]; ok || len(env) != 5 {
		t.Errorf("Env() = %v; want only the settings given", env)
	}
	if got := c.PrecacheDirFor("/home/admin"); got != "/home/admin/app/precache" {
		t.Errorf("default precache dir = %q", got)
	}
	c.PrecacheDir = "/srv/precache"
	if got := c.PrecacheDirFor("/home/admin"); got != "/srv/precache" {
		t.Errorf("precache dir = %q", got)
	}
}

func TestCheckPrecacheDir(t *testing.T) {
	f := Facts{User: "admin", Home: "/home/admin"}
	for dir, bad := range map[string]bool{
		"":                         false, // the default, ~/app/precache
		"/home/admin":              true,
		"/home/admin/app/precache": false,
		"/srv/precache":            false,
	} {
		err := (&Config{PrecacheDir: dir}).CheckPrecacheDir(f)
		if (err != nil) != bad {
			t.Errorf("precache_dir %q: error %v; want refused = %v", dir, err, bad)
		}
		if err != nil && !strings.Contains(err.Error(), "precache_dir: /home/admin is admin's home or holds it") {
			t.Errorf("precache_dir %q: error %q does not name the home", dir, err)
		}
	}
}

func TestURLCredentials(t *testing.T) {
	got := URLCredentials("http://proxy:3128", "http://bob:pa55word@proxy:3128", "https://t0ken@mirror.test/dist", "::bad")
	if strings.Join(got, " ") != "pa55word bob:pa55word t0ken" {
		t.Errorf("URLCredentials = %q; want the password and user:password", got)
	}
	if s := (&Config{HTTPSProxy: "http://u:S3CRET@p:3128"}).Secrets(); len(s) != 2 || s[0] != "S3CRET" {
		t.Errorf("Secrets() = %q; want the proxy's password", s)
	}
}
