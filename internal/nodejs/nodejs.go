// Package nodejs holds the ways node-primal installs Node.js, each leaving
// node, npm and npx at absolute paths in /usr/local/bin, so they work for
// every user, in non-interactive shells and in services, with no profile
// sourcing (a per-user nvm must be sourced in every script):
//
//   - tarball: the official binary release from a mirror in nodejs.org's
//     dist layout, verified against the mirror's SHASUMS256.txt once gpgv
//     has verified that file's signature by a Node.js release key;
//   - nvm: installed system-wide;
//   - distro: Debian's nodejs and npm packages.
package nodejs

import (
	"embed"
	"fmt"
	"regexp"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Installers are the values node_installer accepts.
var Installers = []string{"tarball", "nvm", "distro"}

// InstallRoot holds the unpacked releases; /usr/local/bin links into it.
const InstallRoot = "/usr/local/lib/nodejs"

// BinDir is where every installer links node, npm and npx.
const BinDir = "/usr/local/bin"

// Bin is node's absolute path on the image, whatever the installer: what
// services run and what steps call.
const Bin = BinDir + "/node"

// NvmDir is where the nvm installer puts nvm, system-wide.
const NvmDir = "/usr/local/nvm"

var nvmVersionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// ValidNvmVersion checks an nvm release tag such as v0.40.1.
func ValidNvmVersion(v string) error {
	if !nvmVersionRE.MatchString(v) {
		return fmt.Errorf("%q is not an nvm release tag (like v0.40.1)", v)
	}
	return nil
}

// Platform maps `uname -m` to the platform names of Node.js releases.
func Platform(machine string) (string, error) {
	switch strings.TrimSpace(machine) {
	case "x86_64", "amd64":
		return "linux-x64", nil
	case "aarch64", "arm64":
		return "linux-arm64", nil
	case "armv7l":
		return "linux-armv7l", nil
	case "ppc64le":
		return "linux-ppc64le", nil
	case "s390x":
		return "linux-s390x", nil
	}
	return "", fmt.Errorf("no Node.js binary release for machine type %q", machine)
}

// KeyringPath is where the keyring SHASUMS256.txt's signature is verified
// with is installed on the image.
const KeyringPath = "/etc/node-primal/nodejs-release-keys.gpg"

// Tarball describes one verified release archive on a mirror.
type Tarball struct {
	Mirror   string // base URL of the dist layout, no trailing slash
	Version  string // exact, without "v"
	Platform string // linux-x64
	// Keys are the keys SHASUMS256.txt must be signed by: the step takes
	// the archive's SHA-256 from the text gpgv verified with them, and
	// nothing else. None: no signature check, and SHA256 is the sum.
	Keys []releasekeys.Key
	// SHA256 is the archive's sum from the mirror's unsigned
	// SHASUMS256.txt, for a release checked without its signature.
	SHA256 string
}

// File is the archive's name in the dist layout.
func (t Tarball) File() string { return fmt.Sprintf("node-v%s-%s.tar.xz", t.Version, t.Platform) }

// URL is where the archive is downloaded from.
func (t Tarball) URL() string { return fmt.Sprintf("%s/v%s/%s", t.Mirror, t.Version, t.File()) }

// SumsURL is the release's SHASUMS256.txt; its signature is at
// SumsURL()+".asc" (clearsigned) and +".sig" (detached).
func (t Tarball) SumsURL() string { return fmt.Sprintf("%s/v%s/SHASUMS256.txt", t.Mirror, t.Version) }

// Fetch is the shell command that downloads url to out (stdout when out is
// ""). Every wait is bounded: the connection (20 s), a stalled transfer
// (below 1 KiB/s for 60 s), and the whole transfer when maxSeconds > 0;
// failures are retried three times. The URL, which may carry a mirror's
// credentials, reaches curl as a config line on its standard input, never
// as an argument another process could read. url must have passed
// validate.URL (no quotes, backslashes or line breaks).
func Fetch(url, out string, maxSeconds int) string {
	cmd := "curl -fsSL --connect-timeout 20 --speed-limit 1024 --speed-time 60 --retry 3 --retry-delay 2"
	if maxSeconds > 0 {
		cmd += fmt.Sprintf(" --max-time %d", maxSeconds)
	}
	if out != "" {
		cmd += " -o " + out
	}
	return cmd + " --config - <<'NODE_URL'\nurl = \"" + url + "\"\nNODE_URL\n"
}

// InstallTarball downloads, verifies and unpacks the release under
// InstallRoot and links its commands into /usr/local/bin. A release that is
// already unpacked is not downloaded again.
//
// With t.Keys, the archive's SHA-256 comes only from SHASUMS256.txt as
// signed by one of them: the clearsigned SHASUMS256.txt.asc, or else
// SHASUMS256.txt with its detached .sig, checked by gpgv (Priority:
// required on Debian and Ubuntu, apt's own verifier) against a keyring of
// t.Keys installed at KeyringPath. A mirror that serves no signature, a
// signature that does not match, or one by a key not in the keyring fails
// the step, naming the file and the key.
func InstallTarball(t Tarball) plan.Step {
	verify := len(t.Keys) > 0
	s := plan.Step{
		Name: fmt.Sprintf("install Node.js v%s (%s, from %s)", t.Version, t.Platform, t.Mirror),
		Script: shell.MustRender(scripts, "scripts/tarball.sh", struct {
			Tarball
			Verify                                 bool
			Dir, URL, Root, BinDir, Fetch, Keyring string
			SumsURL, FetchAsc, FetchSig, FetchSums string
		}{t, verify, fmt.Sprintf("%s/node-v%s-%s", InstallRoot, t.Version, t.Platform), t.URL(), InstallRoot, BinDir,
			Fetch(t.URL(), `"$tmp/node.tar.xz"`, 0), KeyringPath,
			t.SumsURL(),
			Fetch(t.SumsURL()+".asc", `"$tmp/SHASUMS256.txt.asc"`, 120),
			Fetch(t.SumsURL()+".sig", `"$tmp/SHASUMS256.txt.sig"`, 120),
			Fetch(t.SumsURL(), `"$tmp/SHASUMS256.txt"`, 120)}),
	}
	if verify {
		s.Files = []plan.File{{
			Path: KeyringPath, Mode: 0o644,
			Content: releasekeys.Keyring(t.Keys), Summary: releasekeys.Describe(t.Keys),
		}}
	}
	return s
}

// InstallNvm installs nvm system-wide in NvmDir from installURL, then the
// Node.js version spec ("lts", "22", "22.12.0") through it, downloading from
// mirror (NVM_NODEJS_ORG_MIRROR), and links the default version's commands
// into /usr/local/bin.
func InstallNvm(nvmVersion, installURL, spec, mirror string) plan.Step {
	nvmSpec := spec
	if spec == "lts" {
		nvmSpec = "--lts"
	}
	return plan.Step{
		Name: fmt.Sprintf("install nvm %s and Node.js %s", nvmVersion, spec),
		Script: shell.MustRender(scripts, "scripts/nvm.sh", struct {
			NvmVersion, Spec, Mirror, Dir, BinDir, Fetch string
		}{nvmVersion, nvmSpec, mirror, NvmDir, BinDir, Fetch(installURL, `"$installer"`, 300)}),
	}
}

// NvmInstallURL is nvm's installer for a release tag.
func NvmInstallURL(version string) string {
	return "https://raw.githubusercontent.com/nvm-sh/nvm/" + version + "/install.sh"
}

// LinkDistro makes the distribution's node and npm reachable under
// /usr/local/bin too, so services and later steps use one absolute path
// whatever the installer.
func LinkDistro() plan.Step {
	return plan.Step{
		Name:   "link Node.js into /usr/local/bin",
		Script: shell.MustRender(scripts, "scripts/distro-link.sh", struct{ BinDir string }{BinDir}),
	}
}
