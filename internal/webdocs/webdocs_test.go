package webdocs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

var testIntegration = Integration{
	Name:        "Test",
	Description: `Says "${not} a template" %{ever}`,
	Identifier:  "packer/acme/thing",
	ExternalURL: "https://example.com/acme/packer-plugin-thing",
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, text := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	goodReadme = "# Thing\n\nData sources: [thing-src](/packer/integrations/acme/thing/latest/components/data-source/src).\n" +
		"Provisioners: [thing-prov](/packer/integrations/acme/thing/latest/components/provisioner/prov#options), " +
		"see [Packer](https://developer.hashicorp.com/packer) and [init](/packer/docs/commands/init).\n"
	provPage = "---\ndescription: >\n  Folded\n  text.\npage_title: thing-prov - Provisioners\nnav_title: thing-prov\n---\n\n" +
		"# thing-prov\n\nType: `thing-prov`\n\nBack to [the plugin](/packer/integrations/acme/thing#installation).\n" +
		"```hcl\nx = \"[not a link](relative.md)\"\n```\nA `[code](span.md)` too.\n"
	srcPage = "---\nnav_title: \"thing-src\"\n---\n# thing-src\n\nType: `thing-src`\n"
)

// Compile writes the registry's layout: the README without its title, each
// component page without front matter and top heading, metadata.hcl that
// parses as HCL with the components in the README's order, and no stale
// component page of an earlier run.
func TestCompile(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, map[string]string{
		"README.md":                goodReadme,
		"provisioners/prov.mdx":    provPage,
		"datasources/src.mdx":      srcPage,
		"datasources/index.mdx":    "---\nnav_title: ignored\n---\n# no component\n",
		"provisioners/notdocs.txt": "ignored",
	})
	writeTree(t, dst, map[string]string{
		"components/provisioner/gone/README.md": "stale",
		"scripts/keep.sh":                       "not ours",
	})

	comps, err := Compile(src, dst, testIntegration)
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{{"data-source", "thing-src", "src"}, {"provisioner", "thing-prov", "prov"}}
	if len(comps) != len(want) || comps[0] != want[0] || comps[1] != want[1] {
		t.Fatalf("components = %+v, want %+v (in the README's order)", comps, want)
	}
	if got, want := read(t, filepath.Join(dst, "README.md")), strings.TrimPrefix(goodReadme, "# Thing\n\n"); got != want {
		t.Errorf("README.md = %q, want the source's without its title, %q", got, want)
	}
	if got := read(t, filepath.Join(dst, "components/provisioner/prov/README.md")); !strings.HasPrefix(got, "Type: `thing-prov`\n") {
		t.Errorf("the provisioner's page keeps its front matter or title:\n%s", got)
	}
	if got := read(t, filepath.Join(dst, "components/data-source/src/README.md")); got != "Type: `thing-src`\n" {
		t.Errorf("the data source's page = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dst, "components/provisioner/gone")); !os.IsNotExist(err) {
		t.Errorf("a stale component page survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "scripts/keep.sh")); err != nil {
		t.Errorf("a file outside README.md, metadata.hcl and components/ was removed: %v", err)
	}

	meta := read(t, filepath.Join(dst, "metadata.hcl"))
	f, diags := hclparse.NewParser().ParseHCL([]byte(meta), "metadata.hcl")
	if diags.HasErrors() {
		t.Fatalf("metadata.hcl does not parse: %s\n%s", diags, meta)
	}
	integ, m := ParseMetadata(t, f)
	if integ.Description != testIntegration.Description || integ.Identifier != "packer/acme/thing" ||
		integ.ExternalURL != testIntegration.ExternalURL || integ.Name != "Test" {
		t.Errorf("metadata.hcl reads back as %+v", integ)
	}
	if len(m) != 2 || m[0] != want[0] || m[1] != want[1] {
		t.Errorf("metadata.hcl components = %+v, want %+v", m, want)
	}
}

// Compile refuses, writing nothing, what would be wrong on the registry.
func TestCompileRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"relative link", map[string]string{"provisioners/prov.mdx": provPage + "See [the example](../example/a.pkr.hcl).\n"},
			`components/provisioner/prov/README.md: "../example/a.pkr.hcl" is relative`},
		{"no such component", map[string]string{"README.md": goodReadme + "[x](/packer/integrations/acme/thing/latest/components/datasource/src)\n"},
			`README.md: "/packer/integrations/acme/thing/latest/components/datasource/src" is no component page`},
		{"no nav_title", map[string]string{"datasources/src.mdx": "---\npage_title: x\n---\n# x\n"},
			"has no nav_title"},
		{"component not in the README", map[string]string{"provisioners/more.mdx": "---\nnav_title: more\n---\n"},
			"README.md does not link the component pages /packer/integrations/acme/thing/latest/components/provisioner/more"},
		{"unclosed front matter", map[string]string{"provisioners/prov.mdx": "---\nnav_title: x\n"},
			"not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			files := map[string]string{"README.md": goodReadme, "provisioners/prov.mdx": provPage, "datasources/src.mdx": srcPage}
			for k, v := range tc.files {
				files[k] = v
			}
			writeTree(t, src, files)
			_, err := Compile(src, dst, testIntegration)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile error = %v, want one containing %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dst); len(ents) != 0 {
				t.Errorf("Compile wrote %d entries before failing", len(ents))
			}
		})
	}
	if _, err := Compile(t.TempDir(), t.TempDir(), Integration{Identifier: "nodebake/node"}); err == nil || !strings.Contains(err.Error(), "identifier") {
		t.Errorf("an identifier without packer/ was accepted: %v", err)
	}
}
