package primal

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"

	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/firewall"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/sysctl"
	"github.com/nodebake/packer-plugin-node/version"
)

// SysctlFile is where node-primal persists its kernel settings.
const SysctlFile = "/etc/sysctl.d/60-node-primal.conf"

// Facts are what the plan needs to know about the machine, read from it
// before the plan is made (and fixed in golden tests).
type Facts struct {
	User     string // the instance user
	Home     string // its home directory
	Platform string // Node.js platform name, e.g. linux-x64
	// Node is the resolved release for the tarball installer; it is read
	// from the mirror after the system plan has installed curl.
	Node nodejs.Tarball
}

// SystemPlan is the first part of node-primal's work: the OS, nginx, kernel
// settings and the port redirect. It also installs what the Node.js
// installer needs, so the mirror can be read before NodePlan is made.
func (c *Config) SystemPlan(f Facts) (plan.Plan, error) {
	if err := validUser(f.User); err != nil {
		return plan.Plan{}, fmt.Errorf("instance_user: %v", err)
	}
	var p plan.Plan
	lock := c.DpkgLockTimeout
	p.Add(apt.WaitForLock(lock), apt.Update(lock))
	if len(c.caCerts) > 0 {
		p.Add(cacerts.Install(c.caCerts))
	}
	p.Add(
		apt.Install("install base packages", append(append([]string(nil), c.Packages...), c.ExtraPackages...), lock),
		apt.Install("install nginx", []string{"nginx"}, lock),
		nginx.EnableAtBoot(),
		nginx.OwnLogs(f.User),
		sysctl.Persist(SysctlFile, c.sysctlSettings()),
		firewall.Redirect(c.FirewallBackend, c.PublicPort, c.NginxPort, lock),
	)
	switch c.NodeInstaller {
	case "tarball", "nvm":
		p.Add(apt.Install("install Node.js installer prerequisites", []string{"curl", "ca-certificates", "xz-utils"}, lock))
	}
	return p, nil
}

// NodePlan is the second part: Node.js, then the precache.
func (c *Config) NodePlan(f Facts) (plan.Plan, error) {
	var p plan.Plan
	switch c.NodeInstaller {
	case "tarball":
		if f.Node.Version == "" || f.Node.SHA256 == "" {
			return p, fmt.Errorf("node_version: the release was not resolved")
		}
		p.Add(nodejs.InstallTarball(f.Node))
	case "nvm":
		p.Add(nodejs.InstallNvm(c.NvmVersion, nodejs.NvmInstallURL(c.NvmVersion), c.NodeVersion, c.NodeMirror))
	case "distro":
		p.Add(apt.Install("install Node.js (Debian packages)", []string{"nodejs", "npm"}, c.DpkgLockTimeout), nodejs.LinkDistro())
	}
	if c.PackageJSON != "" {
		p.Add(precache.Install(c.precacheSpec(f)))
	}
	p.Add(apt.Clean())
	return p, nil
}

// PrecacheDir is where the precache goes for facts f.
func (c *Config) precacheDir(f Facts) string {
	if c.PrecacheDir != "" {
		return c.PrecacheDir
	}
	return path.Join(f.Home, "app", "precache")
}

func (c *Config) precacheSpec(f Facts) precache.Spec {
	s := precache.Spec{
		User: f.User, Home: f.Home, Dir: c.precacheDir(f),
		PackageJSON: c.packageJSON,
		Registry:    c.NpmRegistry, Token: c.NpmToken, KeepToken: c.KeepNpmToken,
		PluginVersion: version.PluginVersion.FormattedVersion(),
	}
	if c.Lockfile != "" {
		s.LockfileName = filepath.Base(c.Lockfile)
		s.Lockfile = c.lockfile
	}
	return s
}

// Env is the environment every step runs with: the build's proxies and, with
// extra CAs, Node's view of the system store. It is not persisted.
func (c *Config) Env() map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{
		"http_proxy": c.HTTPProxy, "HTTP_PROXY": c.HTTPProxy,
		"https_proxy": c.HTTPSProxy, "HTTPS_PROXY": c.HTTPSProxy,
		"no_proxy": c.NoProxy, "NO_PROXY": c.NoProxy,
	} {
		if v != "" {
			env[k] = v
		}
	}
	if len(c.caCerts) > 0 {
		env["NODE_EXTRA_CA_CERTS"] = cacerts.Bundle
	}
	return env
}

// sysctlSettings are the built-in kernel settings with the user's on top.
func (c *Config) sysctlSettings() map[string]string {
	s := map[string]string{"net.ipv4.tcp_slow_start_after_idle": boolValue(c.TCPSlowStartAfterIdle)}
	if *c.IPForward {
		s["net.ipv4.ip_forward"] = "1"
	}
	for k, v := range c.Sysctl {
		s[k] = v
	}
	return s
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
