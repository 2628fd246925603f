package webdocs

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// The schema of metadata.hcl, as the integration template describes it
// (name, description, identifier, docs, component blocks); any other
// attribute or block fails the decode.
type metadataFile struct {
	Integration struct {
		Name        string `hcl:"name"`
		Description string `hcl:"description"`
		Identifier  string `hcl:"identifier"`
		Docs        struct {
			ProcessDocs    bool   `hcl:"process_docs"`
			ReadmeLocation string `hcl:"readme_location"`
			ExternalURL    string `hcl:"external_url,optional"`
		} `hcl:"docs,block"`
		Components []struct {
			Type string `hcl:"type"`
			Name string `hcl:"name"`
			Slug string `hcl:"slug"`
		} `hcl:"component,block"`
	} `hcl:"integration,block"`
}

// ParseMetadata decodes a metadata.hcl into the integration and its
// components, failing the test on any decode error.
func ParseMetadata(t *testing.T, f *hcl.File) (Integration, []Component) {
	t.Helper()
	var m metadataFile
	if diags := gohcl.DecodeBody(f.Body, nil, &m); diags.HasErrors() {
		t.Fatalf("metadata.hcl does not decode: %s", diags)
	}
	in := m.Integration
	if !in.Docs.ProcessDocs || in.Docs.ReadmeLocation != "./README.md" {
		t.Errorf("docs { process_docs = %v, readme_location = %q }, want true and ./README.md", in.Docs.ProcessDocs, in.Docs.ReadmeLocation)
	}
	var comps []Component
	for _, c := range in.Components {
		comps = append(comps, Component{Type: c.Type, Name: c.Name, Slug: c.Slug})
	}
	return Integration{Name: in.Name, Description: in.Description, Identifier: in.Identifier, ExternalURL: in.Docs.ExternalURL}, comps
}
