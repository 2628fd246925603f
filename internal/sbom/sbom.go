// Package sbom makes the CycloneDX software bill of materials of an app
// image: the app's production dependencies as installed (every package
// under the release's node_modules, nested ones too), Node.js itself, and
// the OS packages. It is read from the machine after the dependencies are
// in place, so it lists what is there, not what a lockfile says.
package sbom

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Dir is where node-carnivore writes an image's SBOM.
const Dir = "/usr/share/node-carnivore"

// Path is the SBOM of the app whose service is name, on the image.
func Path(name string) string { return Dir + "/" + name + ".cdx.json" }

// PrimalPath is the SBOM node-primal writes: its precache and the OS.
const PrimalPath = "/usr/share/node-primal/sbom.cdx.json"

// Write reads what dir (a release, or the precache) holds with the node at
// node, renders it as s's SBOM and writes it on the machine at dest, in a
// step of its own with prelude. It returns the document.
func Write(ctx context.Context, r *runner.Runner, prelude, dir, node string, s Subject, dest string) ([]byte, error) {
	inv, err := Collect(ctx, r.RootOutput, dir, node)
	if err != nil {
		return nil, err
	}
	doc, err := inv.CycloneDX(s, time.Now(), newUUID())
	if err != nil {
		return nil, err
	}
	p := plan.Plan{Prelude: prelude}
	p.Add(plan.Step{
		Name:   fmt.Sprintf("write the SBOM (CycloneDX: %d npm packages, Node.js, %d OS packages) to %s", len(inv.Packages), len(inv.Debs), dest),
		Files:  []plan.File{{Path: dest, Mode: 0o644, Content: doc}},
		Script: "echo " + shell.Quote(dest) + " \"$(wc -c < " + shell.Quote(dest) + ") bytes\"\n",
	})
	return doc, r.Run(ctx, p)
}

// newUUID is a random (version 4) UUID, the SBOM's serial number.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Inventory is what the machine holds, as the collector reads it.
type Inventory struct {
	Node     string       `json:"node"` // "v22.12.0"
	Packages []NpmPackage `json:"packages"`
	Debs     []Deb        `json:"debs"`
}

// NpmPackage is one installed package: where it is under the release
// ("node_modules/a/node_modules/b") and what its package.json says.
type NpmPackage struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Version string `json:"version"`
	License string `json:"license"`
}

// Deb is one installed OS package.
type Deb struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// RootOutput runs a command as root on the machine and returns its stdout.
type RootOutput func(ctx context.Context, command string) (string, error)

// Collect reads the inventory of the release at release (a path, maybe a
// symlink) with the node at node.
func Collect(ctx context.Context, run RootOutput, release, node string) (Inventory, error) {
	cmd := shell.MustRender(scripts, "scripts/collect.sh", struct{ Release, Node string }{release, node})
	out, err := run(ctx, cmd)
	if err != nil {
		return Inventory{}, fmt.Errorf("cannot read what the image holds for its SBOM: %w", err)
	}
	var inv Inventory
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		return Inventory{}, fmt.Errorf("the SBOM collector's output is not JSON: %w", err)
	}
	return inv, nil
}

// Subject is what the SBOM describes.
type Subject struct {
	Name, Version string // the app (its service name) and release
	Distro        string // "debian", for the OS packages' purls
	DistroVersion string // "12"
	Tool          string // "packer-plugin-node"
	ToolVersion   string
}

// CycloneDX 1.5 JSON, the parts this SBOM uses.
type bom struct {
	BOMFormat    string      `json:"bomFormat"`
	SpecVersion  string      `json:"specVersion"`
	SerialNumber string      `json:"serialNumber"`
	Version      int         `json:"version"`
	Metadata     metadata    `json:"metadata"`
	Components   []component `json:"components"`
}

type metadata struct {
	Timestamp string     `json:"timestamp"`
	Tools     tools      `json:"tools"`
	Component *component `json:"component"`
}

type tools struct {
	Components []component `json:"components"`
}

type component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Group      string     `json:"group,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Licenses   []license  `json:"licenses,omitempty"`
	Properties []property `json:"properties,omitempty"`
}

type license struct {
	Expression string        `json:"expression,omitempty"`
	License    *namedLicense `json:"license,omitempty"`
}

type namedLicense struct {
	Name string `json:"name"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PathProperty names the property that gives an npm component's place
// under the release, which tells apart two copies of one package.
const PathProperty = "nodebake:node_modules_path"

// spdx is the shape of an SPDX license expression (ids, AND/OR/WITH,
// parentheses); anything else is given as a license name.
var spdx = regexp.MustCompile(`^\(?[A-Za-z0-9.+-]+( (AND|OR|WITH) \(?[A-Za-z0-9.+-]+\)?)*\)?$`)

// CycloneDX renders inv as a CycloneDX 1.5 JSON SBOM of s, made at now.
// serial is the BOM's serial number (a UUID's text).
func (inv Inventory) CycloneDX(s Subject, now time.Time, serial string) ([]byte, error) {
	b := bom{
		BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: "urn:uuid:" + serial, Version: 1,
		Metadata: metadata{
			Timestamp: now.UTC().Format(time.RFC3339),
			Tools:     tools{Components: []component{{Type: "application", Name: s.Tool, Version: s.ToolVersion}}},
			Component: &component{Type: "application", BOMRef: "app", Name: s.Name, Version: s.Version},
		},
		Components: []component{},
	}
	if inv.Node != "" {
		v := strings.TrimPrefix(inv.Node, "v")
		b.Components = append(b.Components, component{Type: "platform", BOMRef: "nodejs", Name: "node", Version: v,
			PURL: "pkg:generic/node@" + url.PathEscape(v), Licenses: []license{{Expression: "MIT"}}})
	}
	pkgs := append([]NpmPackage(nil), inv.Packages...)
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Path < pkgs[j].Path })
	for _, p := range pkgs {
		c := component{Type: "library", BOMRef: "npm:" + p.Path, Name: p.Name, Version: p.Version,
			PURL: npmPURL(p.Name, p.Version), Properties: []property{{Name: PathProperty, Value: p.Path}}}
		if scope, name, ok := strings.Cut(p.Name, "/"); ok && strings.HasPrefix(scope, "@") {
			c.Group, c.Name = scope, name
		}
		switch {
		case p.License == "":
		case spdx.MatchString(p.License):
			c.Licenses = []license{{Expression: p.License}}
		default:
			c.Licenses = []license{{License: &namedLicense{Name: p.License}}}
		}
		b.Components = append(b.Components, c)
	}
	debs := append([]Deb(nil), inv.Debs...)
	sort.Slice(debs, func(i, j int) bool { return debs[i].Name < debs[j].Name })
	for _, d := range debs {
		purl := fmt.Sprintf("pkg:deb/%s/%s@%s?arch=%s", s.Distro, url.PathEscape(d.Name), url.PathEscape(d.Version), url.QueryEscape(d.Arch))
		if s.DistroVersion != "" {
			purl += "&distro=" + url.QueryEscape(s.Distro+"-"+s.DistroVersion)
		}
		b.Components = append(b.Components, component{Type: "library", BOMRef: "deb:" + d.Name + ":" + d.Arch, Name: d.Name, Version: d.Version, PURL: purl})
	}
	return json.MarshalIndent(b, "", "  ")
}

// npmPURL is the package URL of an npm package: pkg:npm/%40scope/name@version.
func npmPURL(name, version string) string {
	if scope, n, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(scope, "@") {
		return "pkg:npm/%40" + url.PathEscape(scope[1:]) + "/" + url.PathEscape(n) + "@" + url.PathEscape(version)
	}
	return "pkg:npm/" + url.PathEscape(name) + "@" + url.PathEscape(version)
}
