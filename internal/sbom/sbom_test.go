package sbom

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// tree makes a release directory with an installed tree: plain, scoped
// and nested packages, plus what is not a package (.bin, a directory
// without package.json, a package.json deeper inside a package).
func tree(t *testing.T) string {
	t.Helper()
	rel := t.TempDir()
	write := func(p, content string) {
		full := filepath.Join(rel, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name":"app","version":"1.0.0"}`)
	write("node_modules/express/package.json", `{"name":"express","version":"4.21.2","license":"MIT"}`)
	write("node_modules/express/node_modules/debug/package.json", `{"name":"debug","version":"2.6.9","license":"MIT"}`)
	write("node_modules/express/lib/esm/package.json", `{"type":"module"}`)
	write("node_modules/debug/package.json", `{"name":"debug","version":"4.3.7","license":"MIT"}`)
	write("node_modules/@types/node/package.json", `{"name":"@types/node","version":"22.10.1","license":"(MIT OR Apache-2.0)"}`)
	write("node_modules/old/package.json", `{"name":"old","version":"0.1.0","licenses":[{"type":"BSD"},{"type":"GPL-2.0"}]}`)
	write("node_modules/custom/package.json", `{"name":"custom","version":"1.0.0","license":"SEE LICENSE IN LICENSE.txt"}`)
	write("node_modules/.bin/x", "")
	write("node_modules/.package-lock.json", `{}`)
	os.MkdirAll(filepath.Join(rel, "node_modules", "not-a-package"), 0o755)
	return rel
}

func local(ctx context.Context, cmd string) (string, error) {
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", &exec.ExitError{ProcessState: c.ProcessState, Stderr: errb.Bytes()}
	}
	return out.String(), nil
}

// TestCollectReadsTheInstalledTree runs the collector here, with this
// machine's node and dpkg, on a tree made for it: every package and only
// packages, each at its place, nested copies apart.
func TestCollectReadsTheInstalledTree(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("the collector runs node; this machine has none")
	}
	rel := tree(t)
	inv, err := Collect(context.Background(), local, rel, node)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.Path+" "+p.Name+"@"+p.Version+" "+p.License)
	}
	want := []string{
		"node_modules/@types/node @types/node@22.10.1 (MIT OR Apache-2.0)",
		"node_modules/custom custom@1.0.0 SEE LICENSE IN LICENSE.txt",
		"node_modules/debug debug@4.3.7 MIT",
		"node_modules/express express@4.21.2 MIT",
		"node_modules/express/node_modules/debug debug@2.6.9 MIT",
		"node_modules/old old@0.1.0 BSD OR GPL-2.0",
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(inv.Node, "v") {
		t.Errorf("node version %q", inv.Node)
	}
	if _, err := exec.LookPath("dpkg-query"); err == nil && len(inv.Debs) == 0 {
		t.Error("no OS packages read from dpkg")
	}
}

// TestCycloneDXParses renders an inventory and reads it back with the
// CycloneDX project's own Go library: the format, the app, Node.js, each
// npm package with its purl, group and license, each OS package.
func TestCycloneDXParses(t *testing.T) {
	inv := Inventory{Node: "v22.12.0",
		Packages: []NpmPackage{
			{Path: "node_modules/express", Name: "express", Version: "4.21.2", License: "MIT"},
			{Path: "node_modules/express/node_modules/debug", Name: "debug", Version: "2.6.9", License: "MIT"},
			{Path: "node_modules/@types/node", Name: "@types/node", Version: "22.10.1", License: "(MIT OR Apache-2.0)"},
			{Path: "node_modules/custom", Name: "custom", Version: "1.0.0", License: "SEE LICENSE IN LICENSE.txt"},
		},
		Debs: []Deb{{Name: "nginx", Version: "1.22.1-9+deb12u1", Arch: "amd64"}},
	}
	b, err := inv.CycloneDX(Subject{Name: "example-production", Version: "20261130T120000Z.abc", Distro: "debian", DistroVersion: "12",
		Tool: "packer-plugin-node", ToolVersion: "0.1.0"}, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), "3f0e9a1c-5b7d-4c2e-9f6a-1b2c3d4e5f60")
	if err != nil {
		t.Fatal(err)
	}
	var doc cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&doc); err != nil {
		t.Fatalf("cyclonedx-go cannot read it: %v\n%s", err, b)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != cdx.SpecVersion1_5 || doc.Metadata == nil || doc.Metadata.Component == nil ||
		doc.Metadata.Component.Name != "example-production" || doc.Metadata.Timestamp != "2026-11-30T12:00:00Z" {
		t.Fatalf("header: %+v", doc)
	}
	byRef := map[string]cdx.Component{}
	for _, c := range *doc.Components {
		byRef[c.BOMRef] = c
	}
	if len(byRef) != 6 {
		t.Errorf("%d components; want node, 4 npm packages, 1 deb", len(byRef))
	}
	for ref, want := range map[string]string{
		"nodejs":                   "pkg:generic/node@22.12.0",
		"npm:node_modules/express": "pkg:npm/express@4.21.2",
		"npm:node_modules/express/node_modules/debug": "pkg:npm/debug@2.6.9",
		"npm:node_modules/@types/node":                "pkg:npm/%40types/node@22.10.1",
		"deb:nginx:amd64":                             "pkg:deb/debian/nginx@1.22.1-9+deb12u1?arch=amd64&distro=debian-12",
	} {
		if got := byRef[ref].PackageURL; got != want {
			t.Errorf("%s purl = %q; want %q", ref, got, want)
		}
	}
	if c := byRef["npm:node_modules/@types/node"]; c.Group != "@types" || c.Name != "node" ||
		c.Licenses == nil || (*c.Licenses)[0].Expression != "(MIT OR Apache-2.0)" {
		t.Errorf("scoped package: %+v", c)
	}
	if c := byRef["npm:node_modules/custom"]; c.Licenses == nil || (*c.Licenses)[0].License == nil || (*c.Licenses)[0].License.Name != "SEE LICENSE IN LICENSE.txt" {
		t.Errorf("a license that is not an SPDX expression is not given by name: %+v", c.Licenses)
	}
	if c := byRef["npm:node_modules/express/node_modules/debug"]; c.Properties == nil || (*c.Properties)[0].Value != "node_modules/express/node_modules/debug" {
		t.Errorf("the nested copy does not say where it is: %+v", c.Properties)
	}
}
