//go:generate packer-sdc mapstructure-to-hcl2 -type Config
//go:generate packer-sdc struct-markdown

// Package primal is the node-primal provisioner: it makes the reusable base
// image of a Node.js app: OS packages, nginx, kernel settings, the port
// redirect, a pinned Node.js and the app's production dependencies
// precached, and records what it made in a manifest node-carnivore reads.
package primal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/internal/firewall"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/sbom"
	"github.com/nodebake/packer-plugin-node/internal/validate"
	"github.com/nodebake/packer-plugin-node/version"
)

// DefaultPackages are the original recipe's essentials: git for git
// dependencies, make and g++ for native addons, graphicsmagick for image
// work, curl.
var DefaultPackages = []string{"git", "make", "g++", "graphicsmagick", "curl"}

// Config is the node-primal provisioner's configuration. The settings it
// shares with node-carnivore (instance_user, public_port, nginx_port,
// precache_dir, npm_registry and the proxies) are in core.Config.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	core.Config         `mapstructure:",squash"`

	// Debian packages to install. Defaults to
	// `["git", "make", "g++", "graphicsmagick", "curl"]`. Setting it replaces
	// the defaults; use `extra_packages` to add to them. A name may carry a
	// version (`curl=7.88.1-10+deb12u8`: installed at exactly that version,
	// downgrading if need be, or the build fails naming it) or a release
	// (`curl/bookworm-backports`: that release's version).
	Packages []string `mapstructure:"packages" required:"false"`
	// Debian packages to install in addition to `packages`.
	ExtraPackages []string `mapstructure:"extra_packages" required:"false"`
	// The value of `net.ipv4.tcp_slow_start_after_idle`. Defaults to `false`
	// (0): a keep-alive connection that was idle keeps its congestion window,
	// which makes bursty HTTP traffic faster. Unlike a `sysctl -w`,
	// the setting is persisted in `/etc/sysctl.d/60-node-primal.conf` and so
	// survives reboots.
	TCPSlowStartAfterIdle bool `mapstructure:"tcp_slow_start_after_idle" required:"false"`
	// More kernel settings to persist in the same file, as
	// `{ "net.core.somaxconn" = "1024" }`. They override the built-in ones.
	Sysctl map[string]string `mapstructure:"sysctl" required:"false"`
	// How long to wait for another process (cloud-init, unattended-upgrades)
	// to release the dpkg lock before failing. Defaults to `10m`.
	DpkgLockTimeout time.Duration `mapstructure:"dpkg_lock_timeout" required:"false"`

	// How Node.js is installed: `tarball` (default) the official binary
	// release from `node_mirror`, verified against its `SHASUMS256.txt`
	// once that file's signature by a Node.js release key is verified (see
	// `verify_node_signature`);
	// `nvm` through nvm installed system-wide in
	// `/usr/local/nvm`; `distro` Debian's `nodejs` and `npm` packages.
	// Whichever, `node`, `npm` and `npx` are linked into `/usr/local/bin`,
	// so they work for every user, in non-interactive shells and in
	// services, with no profile sourcing.
	NodeInstaller string `mapstructure:"node_installer" required:"false"`
	// The Node.js version: exact (`22.12.0`), a major (`22`: its newest
	// release) or `lts` (the newest LTS release), resolved through the
	// mirror's `index.json` at build time. Defaults to `lts`. Not used by the
	// `distro` installer, which installs the distribution's version.
	NodeVersion string `mapstructure:"node_version" required:"false"`
	// Base URL of a mirror in nodejs.org's dist layout (`index.json`,
	// `vX.Y.Z/SHASUMS256.txt`, `vX.Y.Z/node-vX.Y.Z-linux-x64.tar.xz`).
	// Defaults to `https://nodejs.org/dist`. The `nvm` installer uses it as
	// `NVM_NODEJS_ORG_MIRROR`.
	NodeMirror string `mapstructure:"node_mirror" required:"false"`
	// Verify the signature of the release's `SHASUMS256.txt` before
	// trusting any checksum in it: the clearsigned `SHASUMS256.txt.asc`, or
	// else `SHASUMS256.txt.sig`, checked on the machine by `gpgv` against the
	// Node.js release keys the plugin ships (active and retired) and
	// `node_release_keys`. A mirror that serves no signature, a signature
	// that does not match, or one by a key not trusted fails the build,
	// naming the file and the key. Defaults to `true`. `false` trusts the
	// mirror's unsigned `SHASUMS256.txt`, so a compromised or spoofed mirror
	// can serve any binary; every build then says so. For
	// `node_installer = "tarball"` only: nvm checks only the mirror's
	// unsigned checksums, and `distro` installs packages apt verifies.
	VerifyNodeSignature *bool `mapstructure:"verify_node_signature" required:"false"`
	// Local paths of OpenPGP public keys (armored, as
	// `gpg --export --armor KEYID` writes them, or binary), trusted to sign
	// `SHASUMS256.txt` besides the Node.js release keys: for a private
	// mirror that re-signs releases with its own key. Each file must hold
	// public keys only.
	NodeReleaseKeys []string `mapstructure:"node_release_keys" required:"false"`
	// Trust only `node_release_keys`, not the Node.js release keys the
	// plugin ships. Defaults to `false`.
	NodeReleaseKeysOnly bool `mapstructure:"node_release_keys_only" required:"false"`
	// The nvm release for `node_installer = "nvm"`. Defaults to `v0.40.1`.
	// nvm's installer is fetched from GitHub.
	NvmVersion string `mapstructure:"nvm_version" required:"false"`

	// The firewall that holds the redirect: `auto` (default: `ufw` when ufw
	// is enabled, `iptables` when the image uses the legacy iptables
	// backend, `nftables` otherwise), `nftables` (a table in
	// `/etc/nftables.d/node-primal.nft`, included by `/etc/nftables.conf`
	// and loaded at boot by `nftables.service`), `iptables` (saved by
	// `iptables-persistent` to `/etc/iptables/rules.v4`) or `ufw` (a block
	// at the top of `/etc/ufw/before.rules`, and `ufw allow` of
	// `nginx_port`, since ufw filters after the redirect). With ufw enabled
	// only `ufw` is accepted: `nftables.conf`'s `flush ruleset` would wipe
	// ufw's rules at boot, and `iptables-persistent` would remove ufw.
	FirewallBackend string `mapstructure:"firewall_backend" required:"false"`
	// Persist `net.ipv4.ip_forward = 1`, as the original recipe did.
	// Defaults to `false`: the redirect does not need it (it only rewrites
	// packets addressed to this machine), and a machine that forwards
	// packets is a router for whoever can reach it. Set it for an image
	// that must route (containers with their own network, a VPN).
	IPForward *bool `mapstructure:"ip_forward" required:"false"`

	// Local path of the app's `package.json`. When set, the app's production
	// dependencies are installed into `precache_dir` on the image, so
	// node-carnivore builds only fetch what changed.
	PackageJSON string `mapstructure:"package_json" required:"false"`
	// Local path of the lockfile (`package-lock.json` or
	// `npm-shrinkwrap.json`). Defaults to one of those next to
	// `package_json`. With a lockfile, dependencies are installed with
	// `npm ci --omit=dev`; without one, with `npm install --omit=dev`.
	Lockfile string `mapstructure:"lockfile" required:"false"`
	// A token for `npm_registry` (which it requires). Sensitive: never
	// printed, and kept on a tmpfs during the install only, unless
	// `keep_npm_token` is set.
	NpmToken string `mapstructure:"npm_token" required:"false" sensitive:"true"`
	// Leave the token in the instance user's `~/.npmrc` on the image, for
	// node-carnivore builds that install private packages. Defaults to `false`.
	KeepNpmToken bool `mapstructure:"keep_npm_token" required:"false"`
	// Local paths of extra CA certificates (PEM) to trust: installed into the
	// system store and, through `NODE_EXTRA_CA_CERTS` in `/etc/environment`,
	// used by Node.js and npm. Needed where TLS is inspected by a proxy.
	CACertificates []string `mapstructure:"ca_certificates" required:"false"`

	ctx interpolate.Context
	// Read at Prepare time, so a missing file fails `packer validate`.
	packageJSON, lockfile []byte
	caCerts               []cacerts.Cert
	releaseKeys           []releasekeys.Key // from node_release_keys
}

// Provisioner implements packersdk.Provisioner.
type Provisioner struct {
	config Config
}

// ConfigSpec returns the HCL2 spec generated from Config.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes the configuration, applies the defaults, reads the
// local files the build uploads and validates every field, reporting all
// mistakes at once.
func (p *Provisioner) Prepare(raws ...interface{}) error {
	return core.Prepare("node-primal", &p.config, &p.config.ctx, raws...)
}

// Secrets are scrubbed from the plugin's logs and the build's output.
func (c *Config) Secrets() []string {
	s := append(c.Config.Secrets(), core.URLCredentials(c.NodeMirror)...)
	if c.NpmToken != "" {
		s = append(s, c.NpmToken)
	}
	return s
}

// Provision reads the machine's facts, then runs node-primal's work in
// three plans, each made from what the machine says at that point: the
// system (packages, nginx, kernel settings, the redirect); Node.js, once
// the release is resolved on the mirror; and the precache and the
// manifest, once node is there to compare with the manifest of a previous
// run.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generatedData map[string]interface{}) error {
	c := &p.config
	if w := c.SignatureWarning(); w != "" {
		ui.Error(w)
	}
	r, f, err := c.Start(ctx, "node-primal", ui, comm, c.Secrets(), c.InstanceUser, true)
	if err != nil {
		return err
	}
	if c.NodeInstaller == "distro" {
		if w := nodejs.DistroWarning(f.Distro.String(), time.Now()); w != "" {
			ui.Error("node-primal: " + w)
		}
	}
	sys, err := c.SystemPlan(f)
	if err != nil {
		return err
	}
	r.Total = c.StepCount(sys)
	if err := r.Run(ctx, sys); err != nil {
		return err
	}
	var node nodejs.Tarball
	if c.NodeInstaller == "tarball" {
		platform, err := nodejs.Platform(f.Machine)
		if err != nil {
			return err
		}
		if node, err = resolveNode(ctx, r, c.NodeMirror, c.NodeVersion, platform, c.TrustedKeys()); err != nil {
			return err
		}
		if node.SHA256 != "" {
			ui.Say(fmt.Sprintf("node-primal: node_version %q is v%s on %s (sha256 %s, from the unsigned SHASUMS256.txt)", c.NodeVersion, node.Version, validate.Redacted(c.NodeMirror), node.SHA256))
		} else {
			ui.Say(fmt.Sprintf("node-primal: node_version %q is v%s on %s (its SHA-256 is taken from the signed SHASUMS256.txt, %d trusted keys)", c.NodeVersion, node.Version, validate.Redacted(c.NodeMirror), len(node.Keys)))
		}
	}
	np, err := c.NodePlan(f, node)
	if err != nil {
		return err
	}
	if err := r.Run(ctx, np); err != nil {
		return err
	}
	state, err := precache.ReadState(ctx, r.RootOutput, nodejs.BinDir, c.PrecacheDirFor(f.Home))
	if err != nil {
		return err
	}
	if err := r.Run(ctx, c.FinishPlan(f, state, time.Now())); err != nil {
		return err
	}
	// The SBOM of what the image now holds: the precache as installed, Node.js
	// and the OS packages.
	dir := c.PrecacheDirFor(f.Home)
	if _, err := sbom.Write(ctx, r, c.Prelude(f, c.DpkgLockTimeout), dir, nodejs.Bin, sbom.Subject{
		Name: "precache " + dir, Version: c.precacheVersion(f),
		Distro: f.Distro.ID, DistroVersion: f.Distro.Version,
		Tool: "packer-plugin-node", ToolVersion: version.PluginVersion.FormattedVersion(),
	}, sbom.PrimalPath); err != nil {
		return err
	}
	return c.summary(ctx, r, f, state)
}

// sysctlSummary is the persisted kernel settings as "key = value", sorted.
func sysctlSummary(settings map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		kv = append(kv, k+" = "+settings[k])
	}
	return strings.Join(kv, ", ")
}

// precacheVersion names what the precache holds, for its SBOM: the
// lockfile's SHA-256 (package.json's without one); "" without a precache.
func (c *Config) precacheVersion(f core.Facts) string {
	if c.PackageJSON == "" {
		return ""
	}
	w := c.precacheSpec(f).Want()
	if w.LockfileSHA256 != "" {
		return "sha256:" + w.LockfileSHA256
	}
	return "sha256:" + w.PackageJSONSHA256
}

// fingerprintParts shows a fingerprint's parts as "name value", in
// fingerprint.Names' order.
func fingerprintParts(fp fingerprint.Fingerprint) string {
	var kv []string
	for _, k := range fingerprint.Names {
		kv = append(kv, k+" "+fp.Parts[k])
	}
	return strings.Join(kv, ", ")
}

// summary closes the build with what the image now holds, the things a
// user would otherwise log in to check.
func (c *Config) summary(ctx context.Context, r *runner.Runner, f core.Facts, s precache.State) error {
	backend, _ := firewall.Resolve(c.FirewallBackend, f.Iptables, f.UFW) // SystemPlan refused an error
	lines := [][2]string{
		{"app account", fmt.Sprintf("%s (home %s)", f.User, f.Home)},
		{"Node.js", fmt.Sprintf("%s, npm %s, in %s", s.NodeVersion, s.NpmVersion, nodejs.BinDir)},
		{"nginx", fmt.Sprintf("enabled, listening on :%d; :%d is redirected to it (%s, persisted)", c.NginxPort, c.PublicPort, backend)},
		{"kernel", sysctlSummary(c.sysctlSettings()) + " (" + SysctlFile + ")"},
	}
	if c.PackageJSON != "" {
		dir := c.PrecacheDirFor(f.Home)
		n, kib, err := precache.Measure(ctx, r.RootOutput, dir)
		if err != nil {
			return err
		}
		lines = append(lines, [2]string{"precache", fmt.Sprintf("%s: %d packages, %.1f MiB", dir, n, float64(kib)/1024)})
	}
	fp := c.Fingerprint(fingerprint.Architecture(f.Machine), s.NodeVersion)
	lines = append(lines, [2]string{"fingerprint", fp.Value + " (" + fingerprintParts(fp) + ")"},
		[2]string{"manifest", precache.ManifestPath}, [2]string{"sbom", sbom.PrimalPath})
	r.Summary("the image now holds", lines)
	return nil
}

// resolveNode reads the mirror's index.json from the machine (the mirror
// may be reachable only from there) and picks the release. With keys, the
// install step takes the checksum from the signed SHASUMS256.txt; without,
// resolveNode reads it from the unsigned one.
func resolveNode(ctx context.Context, r *runner.Runner, mirror, spec, platform string, keys []releasekeys.Key) (nodejs.Tarball, error) {
	t := nodejs.Tarball{Mirror: mirror, Platform: platform, Keys: keys}
	fetch := func(u string) ([]byte, error) {
		out, err := r.Output(ctx, nodejs.Fetch(u, "", 120))
		if err != nil {
			// The URL may carry the mirror's credentials: never shown.
			shown := validate.Redacted(u)
			var ce *runner.CommandError
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("node_mirror: no answer from %s before the build was stopped (by the provisioner's timeout or an interrupt): %w", shown, ctx.Err())
			case errors.As(err, &ce):
				return nil, fmt.Errorf("node_mirror: cannot read %s from the machine: curl exited %d: %s", shown, ce.Exit, ce.Stderr)
			}
			return nil, fmt.Errorf("node_mirror: cannot read %s from the machine: %w", shown, err)
		}
		return []byte(out), nil
	}
	if v, ok := nodejs.Exact(spec); ok {
		t.Version = v
	} else {
		index, err := fetch(mirror + "/index.json")
		if err != nil {
			return t, err
		}
		if t.Version, err = nodejs.Resolve(index, spec, platform); err != nil {
			return t, err
		}
	}
	if len(keys) > 0 {
		return t, nil
	}
	sums, err := fetch(t.SumsURL())
	if err != nil {
		return t, err
	}
	if t.SHA256, err = nodejs.Checksum(sums, t.File()); err != nil {
		return t, fmt.Errorf("node_version %q: %w", spec, err)
	}
	return t, nil
}
