//go:generate packer-sdc struct-markdown

// Package core is what node-primal and node-carnivore share: the settings
// both must agree on (the instance user, the ports of the redirect, the
// precache) and the build's network, with one set of defaults, one
// validation, one build environment, one reading of the machine and one
// prelude for every step. Each provisioner's Config embeds Config
// (squashed), the way packer-plugin-ansible shares its common settings.
package core

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/npmaudit"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

// Defaults of the shared settings.
const (
	DefaultPublicPort = 80
	DefaultNginxPort  = 8080
	// DefaultInstanceUser is the dedicated account node-primal makes.
	DefaultInstanceUser = "node"
	// DefaultDpkgLockTimeout is how long apt waits for the dpkg lock unless
	// node-primal's dpkg_lock_timeout says otherwise.
	DefaultDpkgLockTimeout = 10 * time.Minute
)

// Config holds the settings both provisioners take. node-primal records
// `instance_user`, `public_port`, `nginx_port` and `precache_dir` in its
// manifest on the image, and node-carnivore fails, naming the setting, when
// its own differ.
type Config struct {
	// The user the app runs as, and who owns the app, the precache and the
	// service's files. node-primal defaults it to `node`, a system account
	// it makes when missing (no password, no login shell, no sudo, home
	// `/home/node`: the convention of the official Node.js Docker image);
	// node-carnivore defaults it to the user recorded in node-primal's
	// manifest on the image. An existing login user such as `admin` gives
	// the original recipe's layout (`/home/admin/app`), at a cost: cloud
	// images give that user passwordless sudo, so whoever takes over the app
	// is root. Root (or any uid 0 user) is refused. nginx workers run as
	// `www-data` either way.
	InstanceUser string `mapstructure:"instance_user" required:"false"`
	// The port clients connect to. node-primal redirects it to
	// `nginx_port`; node-carnivore's health check goes through it.
	// Defaults to `80`.
	PublicPort int `mapstructure:"public_port" required:"false"`
	// The unprivileged port nginx listens on, so nothing needs root to
	// listen. Defaults to `8080`.
	NginxPort int `mapstructure:"nginx_port" required:"false"`
	// Where the precache of the app's production dependencies is on the
	// image. Defaults to `app/precache` in the instance user's home.
	// node-primal empties it and gives it to the instance user, so it
	// cannot be a system directory (`/`, `/etc`, `/usr`, `/var`, anything
	// under `/etc` or `/usr/lib`, …) nor the instance user's home.
	PrecacheDir string `mapstructure:"precache_dir" required:"false"`
	// The npm registry to install from. Defaults to npm's own setting on
	// the image.
	NpmRegistry string `mapstructure:"npm_registry" required:"false"`
	// Whether `npm audit signatures` verifies the registry signatures of
	// the packages npm installs (node-primal's precache, node-carnivore's
	// dependencies on a precache miss), as the instance user with the
	// install's registry, token and proxies. `auto` (default) verifies
	// when the registry publishes signing keys (`<registry>/-/npm/v1/keys`,
	// asked from the machine, 3 attempts of 20 s at most) and otherwise
	// says in one line that it does not; `require` fails the build when it
	// does not; `off` never verifies, for private registries that do not
	// sign. An invalid or missing signature fails the build, naming the
	// packages and the registry. npm looks the registry's keys up in
	// Sigstore's public TUF repository before asking the registry, so the
	// machine must reach that repository too when the registry signs.
	NpmAuditSignatures string `mapstructure:"npm_audit_signatures" required:"false"`
	// HTTP proxy for apt, curl and npm during the build (not persisted).
	HTTPProxy string `mapstructure:"http_proxy" required:"false"`
	// HTTPS proxy for apt, curl and npm during the build (not persisted).
	HTTPSProxy string `mapstructure:"https_proxy" required:"false"`
	// Hosts that bypass the proxies, comma-separated, as in `no_proxy`.
	NoProxy string `mapstructure:"no_proxy" required:"false"`
}

// SetDefaults fills in the shared defaults. It touches no file system.
func (c *Config) SetDefaults() {
	if c.PublicPort == 0 {
		c.PublicPort = DefaultPublicPort
	}
	if c.NginxPort == 0 {
		c.NginxPort = DefaultNginxPort
	}
	if c.NpmAuditSignatures == "" {
		c.NpmAuditSignatures = npmaudit.Auto
	}
}

// Validate checks the shared settings, reporting each problem through add.
func (c *Config) Validate(add AddFunc) {
	if c.InstanceUser != "" {
		if err := validate.User(c.InstanceUser); err != nil {
			add("instance_user", "%v", err)
		} else if c.InstanceUser == "root" {
			add("instance_user", "must not be root: the app runs as this user")
		}
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"public_port", c.PublicPort}, {"nginx_port", c.NginxPort}} {
		if p.port < 1 || p.port > 65535 {
			add(p.field, "%d is not a TCP port (1-65535)", p.port)
		}
	}
	if c.PublicPort == c.NginxPort {
		add("nginx_port", "must differ from public_port (%d): traffic is redirected from one to the other", c.PublicPort)
	}
	if c.PrecacheDir != "" {
		if err := validate.AbsPath(c.PrecacheDir); err != nil {
			add("precache_dir", "%v", err)
		} else if err := validate.NotSystemDir(c.PrecacheDir); err != nil {
			add("precache_dir", "%v: node-primal empties it and gives it to the instance user", err)
		}
	}
	if c.NpmRegistry != "" {
		if err := precache.ValidRegistry(c.NpmRegistry); err != nil {
			add("npm_registry", "%v", err)
		}
	}
	if err := npmaudit.Valid(c.NpmAuditSignatures); err != nil {
		add("npm_audit_signatures", "%v", err)
	}
	for _, p := range []struct{ field, value string }{{"http_proxy", c.HTTPProxy}, {"https_proxy", c.HTTPSProxy}} {
		if p.value != "" {
			if err := validate.URL(p.value); err != nil {
				add(p.field, "%v", err)
			}
		}
	}
	if err := validate.NoProxy(c.NoProxy); err != nil {
		add("no_proxy", "%v", err)
	}
}

// Env is the environment of every step and fact command: the build's
// proxies, in both spellings tools read, and npm's registry. None of it is
// persisted on the image.
func (c *Config) Env() map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{
		"http_proxy": c.HTTPProxy, "HTTP_PROXY": c.HTTPProxy,
		"https_proxy": c.HTTPSProxy, "HTTPS_PROXY": c.HTTPSProxy,
		"no_proxy": c.NoProxy, "NO_PROXY": c.NoProxy,
		"npm_config_registry": c.NpmRegistry,
	} {
		if v != "" {
			env[k] = v
		}
	}
	return env
}

// CheckPrecacheDir refuses a precache directory that is the instance user's
// home or holds it, which only the machine's facts tell.
func (c *Config) CheckPrecacheDir(f Facts) error {
	dir := c.PrecacheDirFor(f.Home)
	if dir == f.Home || strings.HasPrefix(f.Home, dir+"/") {
		return fmt.Errorf("precache_dir: %s is %s's home or holds it: node-primal empties it; use a directory of its own, such as %s", dir, f.User, path.Join(f.Home, "app", "precache"))
	}
	return nil
}

// URLCredentials are the passwords (and user:password pairs) inside URLs
// (a proxy's, a mirror's), for the secrets every provisioner scrubs from
// what it shows.
func URLCredentials(urls ...string) []string {
	var out []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			continue
		}
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p, u.User.Username()+":"+p)
		} else if name := u.User.Username(); len(name) >= 4 {
			out = append(out, name) // a token given as the user name
		}
	}
	return out
}

// Secrets are the shared settings' secrets: credentials inside the proxies.
func (c *Config) Secrets() []string { return URLCredentials(c.HTTPProxy, c.HTTPSProxy) }

// PrecacheDirFor is the precache directory for an instance user whose home
// is home.
func (c *Config) PrecacheDirFor(home string) string {
	if c.PrecacheDir != "" {
		return c.PrecacheDir
	}
	return path.Join(home, "app", "precache")
}
