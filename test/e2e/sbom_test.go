//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/nodebake/packer-plugin-node/internal/sbom"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

// checkSBOM reads the SBOM node-carnivore wrote on the target, and the
// copy it wrote at sbomOut on this machine, with the CycloneDX project's
// own library, and checks its npm packages are exactly the installed
// tree: every entry of node_modules/.package-lock.json (npm's record of
// what it installed), at the same place with the same version, and
// nothing else; plus Node.js and the OS packages.
func checkSBOM(t *testing.T, tgt *sandbox.Target, sbomOut string) {
	t.Helper()
	onImage := tgt.MustRun(t, "cat "+sbom.Path("example-production"))
	local, err := os.ReadFile(sbomOut)
	if err != nil || string(local) != onImage {
		t.Errorf("sbom_output (%v) is not the image's SBOM", err)
	}
	var doc cdx.BOM
	if err := cdx.NewBOMDecoder(strings.NewReader(onImage), cdx.BOMFileFormatJSON).Decode(&doc); err != nil {
		t.Fatalf("the SBOM does not parse as CycloneDX: %v", err)
	}
	if doc.Metadata == nil || doc.Metadata.Component == nil || doc.Metadata.Component.Name != "example-production" || doc.Components == nil {
		t.Fatalf("the SBOM does not describe the app: %+v", doc.Metadata)
	}
	var inSBOM []string
	kinds := map[string]int{}
	for _, c := range *doc.Components {
		switch {
		case strings.HasPrefix(c.BOMRef, "npm:"):
			name := c.Name
			if c.Group != "" {
				name = c.Group + "/" + c.Name
			}
			inSBOM = append(inSBOM, strings.TrimPrefix(c.BOMRef, "npm:")+" "+name+"@"+c.Version)
			if !strings.HasPrefix(c.PackageURL, "pkg:npm/") {
				t.Errorf("%s has purl %q", c.BOMRef, c.PackageURL)
			}
			kinds["npm"]++
			if c.Licenses != nil {
				kinds["licensed"]++
			}
		case c.BOMRef == "nodejs":
			kinds["node"]++
			if "v"+c.Version != strings.TrimSpace(tgt.MustRun(t, "node --version")) {
				t.Errorf("the SBOM's Node.js is %s", c.Version)
			}
		case strings.HasPrefix(c.BOMRef, "deb:"):
			kinds["deb"]++
		}
	}
	// npm's own record of the tree it installed (copied with it from the
	// precache on a hit).
	var lock struct {
		Packages map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Link    bool   `json:"link"`
		} `json:"packages"`
	}
	raw := tgt.MustRun(t, "cat /home/node/app/server/node_modules/.package-lock.json")
	if err := json.NewDecoder(bytes.NewReader([]byte(raw))).Decode(&lock); err != nil {
		t.Fatal(err)
	}
	var installed []string
	for p, e := range lock.Packages {
		if e.Link || p == "" {
			continue
		}
		name := e.Name
		if name == "" {
			name = p[strings.LastIndex(p, "node_modules/")+len("node_modules/"):]
		}
		installed = append(installed, p+" "+name+"@"+e.Version)
	}
	sort.Strings(inSBOM)
	sort.Strings(installed)
	if strings.Join(inSBOM, "\n") != strings.Join(installed, "\n") || len(installed) == 0 {
		t.Errorf("the SBOM's npm packages (%d) are not the installed tree (%d):\nSBOM:\n%s\ninstalled:\n%s",
			len(inSBOM), len(installed), strings.Join(inSBOM, "\n"), strings.Join(installed, "\n"))
	}
	// And against the app's own lockfile: every production package of it is
	// there, at its place, with its version and purl; none of its
	// devDependencies is.
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "example", "app", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var appLock struct {
		Packages map[string]struct {
			Version string `json:"version"`
			Dev     bool   `json:"dev"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &appLock); err != nil {
		t.Fatal(err)
	}
	purls := map[string]string{}
	for _, c := range *doc.Components {
		purls[strings.TrimPrefix(c.BOMRef, "npm:")] = c.Version + " " + c.PackageURL
	}
	prod, dev := 0, 0
	for p, e := range appLock.Packages {
		if p == "" {
			continue
		}
		name := p[strings.LastIndex(p, "node_modules/")+len("node_modules/"):]
		got, ok := purls[p]
		if e.Dev {
			dev++
			if ok {
				t.Errorf("devDependency %s is in the SBOM", p)
			}
			continue
		}
		prod++
		want := e.Version + " pkg:npm/" + strings.Replace(name, "@", "%40", 1) + "@" + e.Version
		if got != want {
			t.Errorf("lockfile package %s: SBOM has %q; want %q", p, got, want)
		}
	}
	if prod == 0 || dev == 0 {
		t.Errorf("the example app's lockfile has %d production and %d dev packages; the check needs both", prod, dev)
	}
	if kinds["node"] != 1 || kinds["deb"] < 100 || kinds["licensed"] < kinds["npm"]*9/10 {
		t.Errorf("the SBOM has %d Node.js, %d OS packages, %d of %d npm packages with a license", kinds["node"], kinds["deb"], kinds["licensed"], kinds["npm"])
	}
	t.Logf("SBOM: %d npm packages = the installed tree, %d OS packages, Node.js", kinds["npm"], kinds["deb"])
}
