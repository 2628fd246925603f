package precache

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

// ManifestPath is where node-primal records what it made. It is outside
// the instance user's reach (root-owned, 0644), and written on every run,
// with or without a precache, so node-carnivore can always check the
// settings it must agree with.
const ManifestPath = "/etc/node-primal/" + ManifestName

// ManifestName is the manifest's file name.
const ManifestName = "manifest.json"

// ManifestFormat is the version of the manifest's layout. It changes when a
// field is removed or changes meaning; readers refuse a newer format
// rather than misread it.
const ManifestFormat = 1

// Manifest is the contract between node-primal, which writes it, and
// node-carnivore, which reads it (and node-primal again, on a rerun). Both
// sides use this one type: the JSON is produced by encoding/json and read
// back by it, never matched as text, so its formatting does not matter.
type Manifest struct {
	// Format is ManifestFormat of the plugin that wrote it.
	Format int `json:"format"`
	// PluginVersion is the version of packer-plugin-node that wrote it.
	PluginVersion string `json:"plugin_version"`
	// Created is when it was written (RFC 3339, UTC).
	Created string `json:"created"`
	// InstanceUser, PublicPort and NginxPort are the settings node-carnivore
	// must agree with: the user the app runs as and the redirect's ports.
	InstanceUser string `json:"instance_user"`
	PublicPort   int    `json:"public_port"`
	NginxPort    int    `json:"nginx_port"`
	// NodeVersion and NpmVersion are what `node --version` and
	// `npm --version` printed at the end of the build (v22.12.0, 10.9.0).
	NodeVersion string `json:"node_version"`
	NpmVersion  string `json:"npm_version"`
	// Precache is nil when node-primal precached nothing (no package_json).
	Precache *Contents `json:"precache"`
	// Fingerprint is the image's fingerprint and its parts (see package
	// fingerprint), as the node-fingerprint data source computes them from
	// the same settings; nil in manifests of plugins before it.
	Fingerprint *fingerprint.Fingerprint `json:"fingerprint,omitempty"`
}

// Contents describes the precache: where it is and what it was installed
// from. A build whose app has the same inputs, on the same node, can use
// its node_modules as they are.
type Contents struct {
	Dir string `json:"dir"`
	// Lockfile is the lockfile's name (package-lock.json or
	// npm-shrinkwrap.json), "" when the precache was resolved without one.
	Lockfile          string `json:"lockfile"`
	LockfileSHA256    string `json:"lockfile_sha256"`
	PackageJSONSHA256 string `json:"package_json_sha256"`
}

// Marshal is the manifest as node-primal writes it.
func (m Manifest) Marshal() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // plain strings and ints always encode
	}
	return append(b, '\n')
}

// ParseManifest reads a manifest. It refuses one of a newer format, whose
// fields this plugin could misread.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not a node-primal manifest: %v", ManifestPath, err)
	}
	if m.Format < 1 {
		return nil, fmt.Errorf("%s has no format version: not written by node-primal", ManifestPath)
	}
	if m.Format > ManifestFormat {
		return nil, fmt.Errorf("%s has format %d, newer than this plugin reads (%d): use the packer-plugin-node release that made the image, or a newer one", ManifestPath, m.Format, ManifestFormat)
	}
	return &m, nil
}

// Record writes m to ManifestPath. It is node-primal's last step, so a
// manifest exists only for an image whose build went through.
func Record(m Manifest) plan.Step {
	return plan.Step{
		Name:   "record what this image holds in " + ManifestPath,
		Files:  []plan.File{{Path: ManifestPath, Mode: 0o644, Content: m.Marshal()}},
		Script: "echo " + shell.Quote("node-carnivore reads "+ManifestPath) + "\n",
	}
}

// State is what the machine says about its precache, read before a plan
// that depends on it is made.
type State struct {
	// Manifest is nil when there is none.
	Manifest *Manifest
	// NodeModules says whether the precache directory holds node_modules.
	NodeModules bool
	// NodeVersion and NpmVersion are what node and npm print now ("" when
	// they are not installed).
	NodeVersion, NpmVersion string
}

// stateScript prints the facts, then the manifest after a marker line. It
// runs as root: the precache may be in a home others cannot read.
const stateScript = `printf 'node=%%s\n' "$(%[1]s/node --version 2>/dev/null)"
printf 'npm=%%s\n' "$(%[1]s/npm --version 2>/dev/null)"
if [ -d %[2]s/node_modules ]; then echo node_modules=yes; else echo node_modules=no; fi
echo '--- manifest'
cat %[3]s 2>/dev/null || true
`

// RootOutput runs a command as root on the machine and returns its stdout.
type RootOutput func(ctx context.Context, command string) (string, error)

// ReadManifest reads node-primal's manifest on the machine: nil when there
// is none.
func ReadManifest(ctx context.Context, run RootOutput) (*Manifest, error) {
	out, err := run(ctx, "cat "+shell.Quote(ManifestPath)+" 2>/dev/null || true\n")
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", ManifestPath, err)
	}
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}
	return ParseManifest([]byte(out))
}

// ReadState reads the manifest and the precache in dir, with node's bin
// directory binDir, in one round trip.
func ReadState(ctx context.Context, run RootOutput, binDir, dir string) (State, error) {
	out, err := run(ctx, fmt.Sprintf(stateScript, shell.Quote(binDir), shell.Quote(dir), shell.Quote(ManifestPath)))
	if err != nil {
		return State{}, fmt.Errorf("cannot read the precache's state: %w", err)
	}
	return ParseState(out)
}

// ParseState parses the output of ReadState's command.
func ParseState(out string) (State, error) {
	head, manifest, _ := strings.Cut(out, "--- manifest\n")
	var s State
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "node":
			s.NodeVersion = strings.TrimSpace(v)
		case "npm":
			s.NpmVersion = strings.TrimSpace(v)
		case "node_modules":
			s.NodeModules = v == "yes"
		}
	}
	if strings.TrimSpace(manifest) != "" {
		m, err := ParseManifest([]byte(manifest))
		if err != nil {
			return s, err
		}
		s.Manifest = m
	}
	return s, nil
}

// Want is what a build needs of the precache to use it as it is.
type Want struct {
	Dir               string
	Lockfile          string // "" when the app has no lockfile
	LockfileSHA256    string // "" when the app has no lockfile
	PackageJSONSHA256 string
}

// Difference is one field where the image and the build disagree, named
// as in the manifest.
type Difference struct {
	Field        string
	Image, Build string
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: image %s, build %s", d.Field, orNone(d.Image), orNone(d.Build))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Verdict is the one decision both provisioners make about a precache:
// node-primal, whether to install it again; node-carnivore, whether to use
// its node_modules as they are (a hit: no registry request) or to install
// with npm (a miss).
type Verdict struct {
	Hit bool
	// Reason is why there is nothing to compare, on a miss: no manifest, no
	// precache recorded, no node_modules.
	Reason string
	// Differences are the fields that differed, on a miss.
	Differences []Difference
	want        Want
	node        string
}

// Check compares the machine's precache with what the build needs.
func Check(s State, w Want) Verdict {
	v := Verdict{want: w, node: s.NodeVersion}
	m := s.Manifest
	switch {
	case m == nil:
		v.Reason = "no manifest at " + ManifestPath
		return v
	case m.Precache == nil:
		v.Reason = "node-primal precached no dependencies on this image"
		return v
	}
	for _, d := range []Difference{
		{"precache.dir", m.Precache.Dir, w.Dir},
		{"precache.lockfile_sha256", m.Precache.LockfileSHA256, w.LockfileSHA256},
		{"precache.package_json_sha256", m.Precache.PackageJSONSHA256, w.PackageJSONSHA256},
		{"node_version", m.NodeVersion, s.NodeVersion},
	} {
		if d.Image != d.Build {
			v.Differences = append(v.Differences, d)
		}
	}
	if len(v.Differences) == 0 && !s.NodeModules {
		v.Reason = w.Dir + "/node_modules is missing"
	}
	v.Hit = v.Reason == "" && len(v.Differences) == 0
	return v
}

// String is the verdict as one line: "hit: …" or "miss: …", naming each
// field that differed.
func (v Verdict) String() string {
	if v.Hit {
		inputs := "package.json"
		if v.want.Lockfile != "" {
			inputs = v.want.Lockfile + " (sha256 " + v.want.LockfileSHA256 + ") and package.json"
		}
		return fmt.Sprintf("hit: %s and node %s match %s", inputs, v.node, ManifestPath)
	}
	if v.Reason != "" {
		return "miss: " + v.Reason
	}
	parts := make([]string, len(v.Differences))
	for i, d := range v.Differences {
		parts[i] = d.String()
	}
	return "miss: " + strings.Join(parts, "; ")
}

// Now is the manifest's timestamp format.
func Now(t time.Time) string { return t.UTC().Format(time.RFC3339) }
