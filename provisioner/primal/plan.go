package primal

import (
	"fmt"
	"path/filepath"
	"reflect"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/account"
	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
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

// newPlan is an empty plan with the prelude for the facts f.
func (c *Config) newPlan(f core.Facts) plan.Plan {
	return plan.Plan{Prelude: c.Prelude(f, c.DpkgLockTimeout)}
}

// SystemPlan is the first part of node-primal's work: the instance user, the OS, nginx, kernel
// settings and the port redirect. It also installs what the Node.js
// installer needs, so the mirror can be read before NodePlan is made.
func (c *Config) SystemPlan(f core.Facts) (plan.Plan, error) {
	p := c.newPlan(f)
	backend, err := firewall.Resolve(c.FirewallBackend, f.Iptables, f.UFW)
	if err != nil {
		return p, err
	}
	p.Add(account.Ensure(f.User, f.Home), apt.WaitForLock(), apt.Update())
	if f.Distro.Ubuntu() {
		need := apt.NeedUniverse(append(append([]string(nil), c.Packages...), c.ExtraPackages...))
		if backend == "iptables" {
			need = append(need, "iptables-persistent")
		}
		if len(need) > 0 {
			p.Add(apt.RequireUniverse(need))
		}
	}
	if len(c.caCerts) > 0 {
		p.Add(cacerts.Install(c.caCerts))
	}
	p.Add(
		apt.Install("install base packages", append(append([]string(nil), c.Packages...), c.ExtraPackages...)),
		apt.Install("install nginx", []string{"nginx"}),
		nginx.EnableAtBoot(),
		nginx.ProtectLogs(),
		sysctl.Persist(SysctlFile, c.sysctlSettings()),
		firewall.Redirect(backend, c.PublicPort, c.NginxPort),
	)
	switch c.NodeInstaller {
	case "tarball":
		prereq := []string{"curl", "ca-certificates", "xz-utils"}
		if *c.VerifyNodeSignature {
			prereq = append(prereq, "gpgv") // Priority: required: there already, unless removed
		}
		p.Add(apt.Install("install Node.js installer prerequisites", prereq))
	case "nvm":
		p.Add(apt.Install("install Node.js installer prerequisites", []string{"curl", "ca-certificates", "xz-utils"}))
	}
	return p, nil
}

// NodePlan is the second part: Node.js, with node, the release resolved on
// the mirror for the tarball installer.
func (c *Config) NodePlan(f core.Facts, node nodejs.Tarball) (plan.Plan, error) {
	p := c.newPlan(f)
	switch c.NodeInstaller {
	case "tarball":
		if node.Version == "" || (node.SHA256 == "" && len(node.Keys) == 0) {
			return p, fmt.Errorf("node_version: the release was not resolved")
		}
		p.Add(nodejs.InstallTarball(node))
	case "nvm":
		p.Add(nodejs.InstallNvm(c.NvmVersion, nodejs.NvmInstallURL(c.NvmVersion), c.NodeVersion, c.NodeMirror))
	case "distro":
		p.Add(apt.Install("install Node.js (Debian packages)", []string{"nodejs", "npm"}), nodejs.LinkDistro())
	}
	return p, nil
}

// FinishPlan is the last part, made once node is installed: the precache
// (installed again only when precache.Check finds the one on the machine
// out of date), apt's cache emptied, and the manifest that records what
// this image holds, written at time now.
func (c *Config) FinishPlan(f core.Facts, s precache.State, now time.Time) plan.Plan {
	p := c.newPlan(f)
	m := precache.Manifest{
		Format: precache.ManifestFormat, PluginVersion: version.PluginVersion.FormattedVersion(),
		Created: precache.Now(now), InstanceUser: f.User, PublicPort: c.PublicPort, NginxPort: c.NginxPort,
		NodeVersion: s.NodeVersion, NpmVersion: s.NpmVersion,
	}
	fp := c.Fingerprint(fingerprint.Architecture(f.Machine), s.NodeVersion)
	m.Fingerprint = &fp
	if c.PackageJSON != "" {
		spec := c.precacheSpec(f)
		if v := precache.Check(s, spec.Want()); v.Hit {
			p.Add(precache.Keep(spec.Dir, v.String()))
		} else {
			p.Add(precache.Install(spec, v.String()))
		}
		m.Precache = spec.Contents()
	}
	// A rerun that changes nothing leaves the manifest's bytes as they were.
	if old := s.Manifest; old != nil {
		same := *old
		same.Created = m.Created
		if reflect.DeepEqual(same, m) {
			m.Created = old.Created
		}
	}
	p.Add(apt.Clean(), precache.Record(m))
	return p
}

// SBOMSteps is the step that writes the SBOM, once the plans have run
// (sbom.Write: it lists what was installed).
const SBOMSteps = 1

// StepCount is how many steps the three plans hold together, known before
// the second and third are made (they depend on the mirror and on node),
// so the build numbers its steps with one count.
func (c *Config) StepCount(system plan.Plan) int {
	n := len(system.Steps) + 2 + SBOMSteps // the finish: apt's cache, the manifest
	switch c.NodeInstaller {
	case "distro":
		n += 2
	default:
		n++
	}
	if c.PackageJSON != "" {
		n++ // the precache, installed or kept
	}
	return n
}

func (c *Config) precacheSpec(f core.Facts) precache.Spec {
	s := precache.Spec{
		User: f.User, Home: f.Home, Dir: c.PrecacheDirFor(f.Home),
		PackageJSON: c.packageJSON,
		Registry:    c.NpmRegistry, Token: c.NpmToken, KeepToken: c.KeepNpmToken,
		AuditSignatures: c.NpmAuditSignatures,
	}
	if c.Lockfile != "" {
		s.LockfileName = filepath.Base(c.Lockfile)
		s.Lockfile = c.lockfile
	}
	return s
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

// Fingerprint is the fingerprint of what this configuration puts on a
// machine of architecture arch (EC2's name: x86_64, arm64) with Node.js
// nodeVersion (exact; ignored for the distro installer). The node-fingerprint
// data source computes it from the same Config, so the two agree by
// construction.
func (c *Config) Fingerprint(arch, nodeVersion string) fingerprint.Fingerprint {
	in := fingerprint.Inputs{
		Architecture: arch, NodeInstaller: c.NodeInstaller, NodeVersion: nodeVersion,
		Packages: append(append([]string(nil), c.Packages...), c.ExtraPackages...),
	}
	if c.PackageJSON != "" {
		in.DependencyFile, in.DependencySHA256 = "package.json", precache.SHA256(c.packageJSON)
		if c.Lockfile != "" {
			in.DependencyFile, in.DependencySHA256 = filepath.Base(c.Lockfile), precache.SHA256(c.lockfile)
		}
	}
	return fingerprint.Of(in)
}
