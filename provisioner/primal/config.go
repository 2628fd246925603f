package primal

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/firewall"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/sysctl"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

const (
	defaultNodeMirror = "https://nodejs.org/dist"
	defaultNvmVersion = "v0.40.1"
)

// SetDefaults fills in every default. It reads no file.
func (c *Config) SetDefaults() {
	c.Config.SetDefaults()
	if c.InstanceUser == "" {
		c.InstanceUser = core.DefaultInstanceUser
	}
	if c.Packages == nil {
		c.Packages = append([]string(nil), DefaultPackages...)
	}
	if c.DpkgLockTimeout == 0 {
		c.DpkgLockTimeout = core.DefaultDpkgLockTimeout
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
	if c.VerifyNodeSignature == nil {
		v := true
		c.VerifyNodeSignature = &v
	}
	if c.IPForward == nil {
		f := false
		c.IPForward = &f
	}
	if c.FirewallBackend == "" {
		c.FirewallBackend = "auto"
	}
}

// Load reads the local files the build uploads (package.json, the
// lockfile, CA certificates), so a missing or malformed one fails
// `packer validate`. Without a lockfile setting, it looks for one next to
// package.json.
func (c *Config) Load(add core.AddFunc) {
	c.packageJSON, c.lockfile, c.caCerts, c.releaseKeys = nil, nil, nil, nil
	if c.PackageJSON != "" {
		c.packageJSON = core.ReadJSONObject(add, "package_json", c.PackageJSON)
		if c.Lockfile == "" {
			for _, name := range precache.Lockfiles {
				p := filepath.Join(filepath.Dir(c.PackageJSON), name)
				if _, err := os.Stat(p); err == nil {
					c.Lockfile = p
					break
				}
			}
		}
	}
	if c.Lockfile != "" {
		c.lockfile = core.ReadJSONObject(add, "lockfile", c.Lockfile)
	}
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
	for i, f := range c.NodeReleaseKeys {
		b, err := os.ReadFile(f)
		if err != nil {
			add(fmt.Sprintf("node_release_keys[%d]", i), "%v", err)
			continue
		}
		keys, err := releasekeys.Parse(b)
		if err != nil {
			add(fmt.Sprintf("node_release_keys[%d]", i), "%s: %v", f, err)
			continue
		}
		c.releaseKeys = append(c.releaseKeys, keys...)
	}
}

// TrustedKeys are the keys SHASUMS256.txt must be signed by: the Node.js
// release keys (unless node_release_keys_only) and node_release_keys; none
// when the tarball installer does not verify signatures.
func (c *Config) TrustedKeys() []releasekeys.Key {
	if c.NodeInstaller != "tarball" || !*c.VerifyNodeSignature {
		return nil
	}
	if c.NodeReleaseKeysOnly {
		return releasekeys.Merge(nil, c.releaseKeys)
	}
	return releasekeys.Merge(releasekeys.NodeJS(), c.releaseKeys)
}

// SignatureWarning is what every build says when the tarball installer
// trusts the mirror's checksums without their signature ("" otherwise).
func (c *Config) SignatureWarning() string {
	if c.NodeInstaller != "tarball" || *c.VerifyNodeSignature {
		return ""
	}
	return "node-primal: WARNING: verify_node_signature = false: the Node.js archive is checked only against the mirror's unsigned SHASUMS256.txt, so a compromised or spoofed mirror (" +
		c.NodeMirror + ") can serve any binary"
}

// Validate checks every field, reporting each problem through add with the
// field's name and the reason. It reads no file.
func (c *Config) Validate(add core.AddFunc) {
	c.Config.Validate(add)
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
	for _, k := range slices.Sorted(maps.Keys(c.Sysctl)) {
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
	if err := validate.URL(c.NodeMirror); err != nil {
		add("node_mirror", "%v", err)
	}
	if err := nodejs.ValidNvmVersion(c.NvmVersion); err != nil {
		add("nvm_version", "%v", err)
	}
	if c.NodeInstaller != "tarball" {
		if len(c.NodeReleaseKeys) > 0 {
			add("node_release_keys", "applies only to node_installer = \"tarball\"")
		}
		if c.NodeReleaseKeysOnly {
			add("node_release_keys_only", "applies only to node_installer = \"tarball\"")
		}
	} else {
		if !*c.VerifyNodeSignature && len(c.NodeReleaseKeys) > 0 {
			add("node_release_keys", "has no use with verify_node_signature = false")
		}
		if c.NodeReleaseKeysOnly && len(c.NodeReleaseKeys) == 0 {
			add("node_release_keys_only", "needs node_release_keys: it would trust no key")
		}
	}

	// The redirect
	if !slices.Contains(firewall.Backends, c.FirewallBackend) {
		add("firewall_backend", "%q is not one of %s", c.FirewallBackend, strings.Join(firewall.Backends, ", "))
	}

	// The precache
	if c.Lockfile != "" {
		if c.PackageJSON == "" {
			add("lockfile", "needs package_json")
		}
		if base := filepath.Base(c.Lockfile); !slices.Contains(precache.Lockfiles, base) {
			add("lockfile", "%q must be named %s, the names npm reads", c.Lockfile, strings.Join(precache.Lockfiles, " or "))
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
}
