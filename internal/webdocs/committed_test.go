package webdocs

import (
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/nodebake/packer-plugin-node/datasource/ami"
	"github.com/nodebake/packer-plugin-node/datasource/fingerprint"
	"github.com/nodebake/packer-plugin-node/provisioner/carnivore"
	"github.com/nodebake/packer-plugin-node/provisioner/primal"
)

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The committed .web-docs/ is what the registry publishes: metadata.hcl
// names the integration packer/nodebake/node and exactly the components
// main.go registers, each with its page, and each page lists every option
// the component's HCL2 spec accepts (and, for the data source, every output),
// so an option added to a Config without a doc comment is caught here.
// (`make generate-check` separately fails when .web-docs/ is stale.)
func TestCommittedWebDocs(t *testing.T) {
	dir := filepath.Join(repoRoot(t), ".web-docs")
	f, diags := hclparse.NewParser().ParseHCLFile(filepath.Join(dir, "metadata.hcl"))
	if diags.HasErrors() {
		t.Fatalf("metadata.hcl: %s", diags)
	}
	integ, comps := ParseMetadata(t, f)
	if integ.Identifier != "packer/nodebake/node" {
		t.Errorf("identifier = %q, want packer/nodebake/node", integ.Identifier)
	}
	// main.go: RegisterProvisioner("primal"), ("carnivore"), RegisterDatasource("ami"), ("fingerprint").
	specs := map[string][]hcldec.ObjectSpec{
		"provisioner/primal":      {(&primal.Provisioner{}).ConfigSpec()},
		"provisioner/carnivore":   {(&carnivore.Provisioner{}).ConfigSpec()},
		"data-source/ami":         {(&ami.Datasource{}).ConfigSpec(), (&ami.Datasource{}).OutputSpec()},
		"data-source/fingerprint": {(&fingerprint.Datasource{}).ConfigSpec(), (&fingerprint.Datasource{}).OutputSpec()},
	}
	names := map[string]string{"provisioner/primal": "node-primal", "provisioner/carnivore": "node-carnivore",
		"data-source/ami": "node-ami", "data-source/fingerprint": "node-fingerprint"}
	var got []string
	for _, c := range comps {
		key := c.Type + "/" + c.Slug
		got = append(got, key)
		if names[key] != c.Name {
			t.Errorf("component %s is named %q, want %q (its type in templates)", key, c.Name, names[key])
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "data-source/ami data-source/fingerprint provisioner/carnivore provisioner/primal" {
		t.Fatalf("metadata.hcl components = %v, want the plugin's four", got)
	}

	for _, c := range comps {
		page := read(t, filepath.Join(dir, c.Path()))
		if strings.HasPrefix(page, "---") || strings.HasPrefix(page, "# ") {
			t.Errorf("%s starts with front matter or a title, which the registry adds", c.Path())
		}
		var options []string
		for _, s := range specs[c.Type+"/"+c.Slug] {
			options = append(options, specKeys(s)...)
		}
		n := 0
		for _, o := range options {
			if strings.HasPrefix(o, "packer_") {
				continue // Packer's own, set by Packer
			}
			n++
			if !strings.Contains(page, "\n- `"+o+"` (") {
				t.Errorf("%s does not document the option %q", c.Path(), o)
			}
		}
		t.Logf("%s: %d options documented", c.Path(), n)
	}
}

// specKeys lists an object spec's attribute and block names, with the
// names inside nested blocks.
func specKeys(s hcldec.ObjectSpec) []string {
	var keys []string
	for k, v := range s {
		keys = append(keys, k)
		if b, ok := v.(*hcldec.BlockSpec); ok {
			if nested, ok := b.Nested.(hcldec.ObjectSpec); ok {
				keys = append(keys, specKeys(nested)...)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
