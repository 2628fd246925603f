// Package fingerprint defines the fingerprint of a primal image: one value
// that changes whenever what node-primal would put on the image for an app
// changes, so a pipeline can tell whether the newest primal image still
// matches the app (its precache would be hit) or must be rebuilt.
//
// A fingerprint is made of parts, each a short string safe as an EC2 tag
// value:
//
//   - recipe: Recipe, the version of node-primal's recipe. It changes when
//     a release of the plugin changes what node-primal installs for the
//     same inputs, not with every release.
//   - architecture: the machine's, as EC2 names it (x86_64, arm64): native
//     addons in the precache are built for it.
//   - node: how and which Node.js: "tarball/22.12.0", "nvm/22.12.0", or
//     "distro" (the distribution's package, whose version the Packer host
//     cannot know: it changes with the source image, not with a setting).
//   - packages: the SHA-256 of the sorted, de-duplicated OS package list
//     (packages and extra_packages).
//   - dependencies: the file the precache is installed from and its
//     SHA-256: the lockfile's, or package.json's without one
//     ("package-lock.json:<sha256>"), or "none" without a precache.
//
// The fingerprint is the SHA-256 of the parts, one "name=value" line each,
// sorted by name. The parts leave out on purpose what the precache and
// the Node.js install do not depend on (the registry, the mirror, ports,
// kernel settings): node-carnivore checks the settings it must agree with
// against the manifest itself. The distribution is left out too, since
// the data source cannot see the source image: a pipeline that changes it
// also changes the source image filter, and can put the distribution in
// node-ami's tags.
package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Recipe is node-primal's recipe version, a part of every fingerprint.
// Bump it when a change to node-primal changes what it installs for the
// same inputs (and only then): every fingerprint changes with it.
const Recipe = "1"

// Tag keys: images carry the fingerprint under TagKey and each part under
// PartTagPrefix + the part's name, so a look-up that finds no image with a
// fingerprint can say which part of the newest image's differs.
const (
	TagKey        = "node:fingerprint"
	PartTagPrefix = "node:fingerprint:"
)

// Names of the parts, in the order they are shown.
var Names = []string{"recipe", "architecture", "node", "packages", "dependencies"}

// Inputs are what a fingerprint is made of.
type Inputs struct {
	// Architecture is EC2's name for the machine's: x86_64 or arm64 (see
	// Architecture).
	Architecture string
	// NodeInstaller is node-primal's node_installer: tarball, nvm, distro.
	NodeInstaller string
	// NodeVersion is the exact Node.js version, without "v"; ignored for
	// the distro installer.
	NodeVersion string
	// Packages are the OS packages installed, in any order.
	Packages []string
	// DependencyFile names what the precache is installed from
	// (package-lock.json, npm-shrinkwrap.json, package.json), "" for no
	// precache; DependencySHA256 is its hex SHA-256.
	DependencyFile, DependencySHA256 string
}

// Fingerprint is a fingerprint and the parts it was made of.
type Fingerprint struct {
	Value string            `json:"value"`
	Parts map[string]string `json:"parts"`
}

// Of computes the fingerprint of in.
func Of(in Inputs) Fingerprint {
	node := "distro"
	if in.NodeInstaller != "distro" {
		node = in.NodeInstaller + "/" + strings.TrimPrefix(in.NodeVersion, "v")
	}
	deps := "none"
	if in.DependencyFile != "" {
		deps = in.DependencyFile + ":" + in.DependencySHA256
	}
	parts := map[string]string{
		"recipe":       Recipe,
		"architecture": in.Architecture,
		"node":         node,
		"packages":     packagesPart(in.Packages),
		"dependencies": deps,
	}
	return Fingerprint{Value: sum(parts), Parts: parts}
}

// packagesPart is "sha256:" and the first 32 hex digits of the SHA-256 of
// the sorted, de-duplicated list, one name per line: the list itself can
// be longer than a tag value may be.
func packagesPart(pkgs []string) string {
	list := slices.Compact(slices.Sorted(slices.Values(pkgs)))
	s := sha256.Sum256([]byte(strings.Join(list, "\n")))
	return "sha256:" + hex.EncodeToString(s[:16])
}

func sum(parts map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(parts)) {
		fmt.Fprintf(&b, "%s=%s\n", k, parts[k])
	}
	s := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(s[:])
}

// Tags are the image tags that record f: TagKey and one per part.
func (f Fingerprint) Tags() map[string]string {
	t := map[string]string{TagKey: f.Value}
	for k, v := range f.Parts {
		t[PartTagPrefix+k] = v
	}
	return t
}

// PartsFromTags reads the parts back from an image's tags (nil when it
// has none).
func PartsFromTags(tags map[string]string) map[string]string {
	var parts map[string]string
	for k, v := range tags {
		if name, ok := strings.CutPrefix(k, PartTagPrefix); ok {
			if parts == nil {
				parts = map[string]string{}
			}
			parts[name] = v
		}
	}
	return parts
}

// Diff describes each part that differs between want and have, as
// `node (image "tarball/22.11.0", wanted "tarball/22.12.0")`, in Names'
// order then by name; a part missing from have is shown as missing.
func Diff(want, have map[string]string) []string {
	var out []string
	names := append([]string(nil), Names...)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	for _, k := range names {
		w, ok := want[k]
		if !ok {
			continue
		}
		h, present := have[k]
		switch {
		case !present:
			out = append(out, fmt.Sprintf("%s (image: no %s%s tag, wanted %q)", k, PartTagPrefix, k, w))
		case h != w:
			out = append(out, fmt.Sprintf("%s (image %q, wanted %q)", k, h, w))
		}
	}
	return out
}

var valueRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Valid checks that s has the form of a fingerprint.
func Valid(s string) error {
	if !valueRE.MatchString(s) {
		return fmt.Errorf("must be a fingerprint (64 lowercase hex digits, as node-fingerprint outputs), got %q", s)
	}
	return nil
}

// Architectures are the machines node-primal can fingerprint, as EC2 names
// them.
var Architectures = []string{"x86_64", "arm64"}

// Architecture maps `uname -m` to EC2's name for the architecture; a
// machine EC2 has no name for keeps its own.
func Architecture(machine string) string {
	switch m := strings.TrimSpace(machine); m {
	case "x86_64", "amd64":
		return "x86_64"
	case "aarch64", "arm64":
		return "arm64"
	default:
		return m
	}
}

// Machine maps EC2's architecture name back to `uname -m`'s, for
// nodejs.Platform.
func Machine(arch string) string {
	if arch == "arm64" {
		return "aarch64"
	}
	return arch
}
