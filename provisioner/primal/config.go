package primal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/firewall"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/sysctl"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

const (
	defaultDpkgLockTimeout = 10 * time.Minute
	defaultNodeMirror      = "https://nodejs.org/dist"
	defaultNvmVersion      = "v0.40.1"
)

var (
	validUser = validate.User
	validURL  = validate.URL
)

func (c *Config) setDefaults() {
	if c.Packages == nil {
		c.Packages = append([]string(nil), DefaultPackages...)
	}
	if c.DpkgLockTimeout == 0 {
		c.DpkgLockTimeout = defaultDpkgLockTimeout
	}
	if c.NodeInstaller == "" {
		c.NodeInstaller = "tarball"
	}
	if c.NodeVersion == "" && c.NodeInstaller != "distro" {
		c.NodeVersion = "lts"
	}
	if c.NodeMirror == "" {
		c.NodeMirror = defaultNodeMirror
	}
	c.NodeMirror = strings.TrimRight(c.NodeMirror, "/")
	if c.NvmVersion == "" {
		c.NvmVersion = defaultNvmVersion
	}
	if c.IPForward == nil {
		t := true
		c.IPForward = &t
	}
	if c.PublicPort == 0 {
		c.PublicPort = 80
	}
	if c.NginxPort == 0 {
		c.NginxPort = 8080
	}
	if c.FirewallBackend == "" {
		c.FirewallBackend = "auto"
	}
	if c.PackageJSON != "" && c.Lockfile == "" {
		for _, name := range precache.Lockfiles {
			p := filepath.Join(filepath.Dir(c.PackageJSON), name)
			if _, err := os.Stat(p); err == nil {
				c.Lockfile = p
				break
			}
		}
	}
}

// validate checks every field and returns all problems at once, each naming
// the field and the reason. It also reads the local files the build uploads.
func (c *Config) validate() error {
	var errs *packersdk.MultiError
	add := func(field, format string, a ...any) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.InstanceUser != "" {
		if err := validUser(c.InstanceUser); err != nil {
			add("instance_user", "%v", err)
		} else if c.InstanceUser == "root" {
			add("instance_user", "must not be root: nginx and the app run as this user")
		}
	}
	for _, f := range []struct {
		field string
		list  []string
	}{{"packages", c.Packages}, {"extra_packages", c.ExtraPackages}} {
		for i, p := range f.list {
			if err := apt.ValidPackage(p); err != nil {
				add(fmt.Sprintf("%s[%d]", f.field, i), "%v", err)
			}
		}
	}
	for _, k := range sortedKeys(c.Sysctl) {
		if err := sysctl.ValidKey(k); err != nil {
			add("sysctl", "%v", err)
		}
		if err := sysctl.ValidValue(c.Sysctl[k]); err != nil {
			add(fmt.Sprintf("sysctl[%q]", k), "%v", err)
		}
	}
	if c.DpkgLockTimeout < 0 {
		add("dpkg_lock_timeout", "must not be negative, got %s", c.DpkgLockTimeout)
	}

	// Node.js
	if !slices.Contains(nodejs.Installers, c.NodeInstaller) {
		add("node_installer", "%q is not one of %s", c.NodeInstaller, strings.Join(nodejs.Installers, ", "))
	}
	if c.NodeInstaller == "distro" && c.NodeVersion != "" {
		add("node_version", "cannot be chosen with node_installer = \"distro\", which installs the distribution's version")
	} else if c.NodeVersion != "" {
		if err := nodejs.ValidVersionSpec(c.NodeVersion); err != nil {
			add("node_version", "%v", err)
		}
	}
	if err := validURL(c.NodeMirror); err != nil {
		add("node_mirror", "%v", err)
	}
	if err := nodejs.ValidNvmVersion(c.NvmVersion); err != nil {
		add("nvm_version", "%v", err)
	}

	// The redirect
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
	if !slices.Contains(firewall.Backends, c.FirewallBackend) {
		add("firewall_backend", "%q is not one of %s", c.FirewallBackend, strings.Join(firewall.Backends, ", "))
	}

	// The precache
	if c.PackageJSON != "" {
		b, err := os.ReadFile(c.PackageJSON)
		var obj map[string]any
		switch {
		case err != nil:
			add("package_json", "%v", err)
		case json.Unmarshal(b, &obj) != nil:
			add("package_json", "%s is not a JSON object", c.PackageJSON)
		default:
			c.packageJSON = b
		}
	}
	if c.Lockfile != "" {
		if c.PackageJSON == "" {
			add("lockfile", "needs package_json")
		}
		base := filepath.Base(c.Lockfile)
		if !slices.Contains(precache.Lockfiles, base) {
			add("lockfile", "%q must be named %s, the names npm reads", c.Lockfile, strings.Join(precache.Lockfiles, " or "))
		}
		b, err := os.ReadFile(c.Lockfile)
		var obj map[string]any
		switch {
		case err != nil:
			add("lockfile", "%v", err)
		case json.Unmarshal(b, &obj) != nil:
			add("lockfile", "%s is not a JSON object", c.Lockfile)
		default:
			c.lockfile = b
		}
	}
	if c.PrecacheDir != "" {
		if err := validate.AbsPath(c.PrecacheDir); err != nil {
			add("precache_dir", "%v", err)
		}
	}
	if c.NpmRegistry != "" {
		if err := precache.ValidRegistry(c.NpmRegistry); err != nil {
			add("npm_registry", "%v", err)
		}
	}
	if c.NpmToken != "" {
		if c.NpmRegistry == "" {
			add("npm_token", "needs npm_registry: the token is bound to one registry")
		}
		if err := precache.ValidToken(c.NpmToken); err != nil {
			add("npm_token", "%v", err) // the message never includes the token
		}
	}
	for _, p := range []struct{ field, value string }{{"http_proxy", c.HTTPProxy}, {"https_proxy", c.HTTPSProxy}} {
		if p.value != "" {
			if err := validURL(p.value); err != nil {
				add(p.field, "%v", err)
			}
		}
	}
	if err := validate.NoProxy(c.NoProxy); err != nil {
		add("no_proxy", "%v", err)
	}
	c.caCerts = nil
	for i, f := range c.CACertificates {
		b, err := os.ReadFile(f)
		switch {
		case err != nil:
			add(fmt.Sprintf("ca_certificates[%d]", i), "%v", err)
		case !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----"):
			add(fmt.Sprintf("ca_certificates[%d]", i), "%s is not a PEM certificate", f)
		default:
			c.caCerts = append(c.caCerts, cacerts.Cert{Name: fmt.Sprintf("ca-%02d.crt", i+1), Content: b})
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}
