// Package webdocs compiles the docs that `packer-sdc renderdocs` rendered
// (docs/ with its @include partials filled in, in .docs/) into the layout
// the Packer integrations registry reads from a plugin's repository:
//
//	.web-docs/metadata.hcl                        the integration and its components
//	.web-docs/README.md                           the plugin's page (docs/README.md)
//	.web-docs/components/<type>/<slug>/README.md  one page per component
//
// A component page is docs/<folder>/<slug>.mdx without its front matter and
// its top heading, which the registry renders itself; the plugin's page
// likewise loses its top heading. Links are checked:
// the registry shows these pages away from the repository, so a relative
// link would be broken there, and a link to one of this integration's
// component pages must name a component that exists.
package webdocs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Integration is the registry's description of the plugin, written to
// metadata.hcl.
type Integration struct {
	Name        string
	Description string
	Identifier  string // packer/<organization>/<name>
	ExternalURL string // the repository
}

// Component is one page of the integration.
type Component struct {
	Type string // builder, provisioner, post-processor or data-source
	Name string // the page's nav_title, as in node-primal
	Slug string // the doc's file name, as in primal
}

// Path is the component page's path under the web docs directory.
func (c Component) Path() string {
	return filepath.Join("components", c.Type, c.Slug, "README.md")
}

// folders maps the docs/ folder of each kind of component to the
// registry's component type, in the order components are listed.
var folders = []struct{ dir, typ string }{
	{"builders", "builder"},
	{"provisioners", "provisioner"},
	{"post-processors", "post-processor"},
	{"datasources", "data-source"},
}

// Compile reads the rendered docs in src and replaces the README.md,
// metadata.hcl and components/ of dst with what they compile to. Nothing is
// written unless every page compiles and every link checks.
func Compile(src, dst string, in Integration) ([]Component, error) {
	if !regexp.MustCompile(`^packer/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`).MatchString(in.Identifier) {
		return nil, fmt.Errorf("identifier %q is not packer/<organization>/<name>", in.Identifier)
	}
	readme, err := os.ReadFile(filepath.Join(src, "README.md"))
	if err != nil {
		return nil, err
	}
	_, body, err := splitFrontMatter(string(readme))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(src, "README.md"), err)
	}
	// The registry titles the plugin's page with the integration's name.
	pages := map[string]string{"README.md": stripTitle(body)}

	var comps []Component
	for _, f := range folders {
		files, _ := filepath.Glob(filepath.Join(src, f.dir, "*.mdx"))
		sort.Strings(files)
		for _, file := range files {
			slug := strings.TrimSuffix(filepath.Base(file), ".mdx")
			if slug == "index" {
				continue // index pages are not components
			}
			text, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			front, body, err := splitFrontMatter(string(text))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			name := front["nav_title"]
			if name == "" {
				return nil, fmt.Errorf("%s: the front matter has no nav_title, the component's name on the registry", file)
			}
			c := Component{Type: f.typ, Name: name, Slug: slug}
			comps = append(comps, c)
			pages[c.Path()] = stripTitle(body)
		}
	}
	if len(comps) == 0 {
		return nil, fmt.Errorf("no component docs under %s (%s/*.mdx, ...)", src, folders[0].dir)
	}
	if err := orderByReadme(comps, body, in.Identifier); err != nil {
		return nil, err
	}

	var problems []string
	names := make([]string, 0, len(pages))
	for p := range pages {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		for _, e := range checkLinks(pages[p], in.Identifier, comps) {
			problems = append(problems, p+": "+e)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("links that would be broken on the registry:\n  %s", strings.Join(problems, "\n  "))
	}

	if err := os.RemoveAll(filepath.Join(dst, "components")); err != nil {
		return nil, err
	}
	pages["metadata.hcl"] = Metadata(in, comps)
	for _, p := range append(names, "metadata.hcl") {
		out := filepath.Join(dst, p)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(out, []byte(pages[p]), 0o644); err != nil {
			return nil, err
		}
	}
	return comps, nil
}

// orderByReadme sorts the components in the order the plugin's page links
// them, and fails if it leaves one out: the registry's plugin page is where
// users find the components.
func orderByReadme(comps []Component, readme, identifier string) error {
	_, org, name := splitIdentifier(identifier)
	pos := map[Component]int{}
	var missing []string
	for _, c := range comps {
		link := "](/packer/integrations/" + org + "/" + name + "/latest/components/" + c.Type + "/" + c.Slug
		i := strings.Index(readme, link+")")
		if j := strings.Index(readme, link+"#"); i < 0 || (j >= 0 && j < i) {
			i = j
		}
		if i < 0 {
			missing = append(missing, link[2:])
		}
		pos[c] = i
	}
	if len(missing) > 0 {
		return fmt.Errorf("README.md does not link the component pages %s", strings.Join(missing, ", "))
	}
	sort.SliceStable(comps, func(a, b int) bool { return pos[comps[a]] < pos[comps[b]] })
	return nil
}

// splitFrontMatter separates a page's YAML front matter (between two ---
// lines at its top) from its body. Only the top-level keys with a value on
// their own line are returned (nav_title, page_title); folded values such
// as description's are not needed here.
func splitFrontMatter(text string) (map[string]string, string, error) {
	front := map[string]string{}
	if !strings.HasPrefix(text, "---\n") {
		return front, text, nil
	}
	rest := text[len("---\n"):]
	end := strings.Index(rest, "\n---\n")
	if end < 0 {
		return nil, "", fmt.Errorf("the front matter is not closed by a --- line")
	}
	sc := bufio.NewScanner(strings.NewReader(rest[:end]))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		front[strings.TrimSpace(k)] = v
	}
	return front, strings.TrimLeft(rest[end+len("\n---\n"):], "\n"), nil
}

// stripTitle removes the page's top heading (# node-primal), which the
// registry adds from the component's name.
func stripTitle(body string) string {
	body = strings.TrimLeft(body, "\n")
	if strings.HasPrefix(body, "# ") {
		if i := strings.IndexByte(body, '\n'); i >= 0 {
			body = strings.TrimLeft(body[i+1:], "\n")
		} else {
			body = ""
		}
	}
	return body
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// checkLinks returns a problem for each Markdown link outside code that
// would not work on the registry: a relative link (to a file of the
// repository), or a link to a component page of this integration that does
// not exist.
func checkLinks(page, identifier string, comps []Component) []string {
	_, org, name := splitIdentifier(identifier)
	own := "/packer/integrations/" + org + "/" + name
	var problems []string
	inFence := false
	for _, line := range strings.Split(page, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range linkRE.FindAllStringSubmatch(stripCodeSpans(line), -1) {
			target := m[1]
			switch {
			case strings.HasPrefix(target, "https://"), strings.HasPrefix(target, "http://"),
				strings.HasPrefix(target, "mailto:"), strings.HasPrefix(target, "#"):
			case target == own || strings.HasPrefix(target, own+"#"):
			case strings.HasPrefix(target, own+"/"):
				path, _, _ := strings.Cut(strings.TrimPrefix(target, own+"/"), "#")
				found := false
				for _, c := range comps {
					if path == "latest/components/"+c.Type+"/"+c.Slug {
						found = true
					}
				}
				if !found {
					problems = append(problems, fmt.Sprintf("%q is no component page of %s (want %s/latest/components/<type>/<slug>, with a type of %s)",
						target, identifier, own, typeList()))
				}
			case strings.HasPrefix(target, "/packer/"):
				// another page of the Packer site
			default:
				problems = append(problems, fmt.Sprintf("%q is relative: it resolves against the repository, not on the registry; link %s/... or an https:// address", target, own))
			}
		}
	}
	return problems
}

func typeList() string {
	var ts []string
	for _, f := range folders {
		ts = append(ts, f.typ)
	}
	return strings.Join(ts, ", ")
}

// stripCodeSpans blanks `code spans`, whose brackets are not links.
func stripCodeSpans(line string) string {
	var b strings.Builder
	in := false
	for _, r := range line {
		if r == '`' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func splitIdentifier(id string) (product, org, name string) {
	parts := strings.SplitN(id, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// Metadata renders metadata.hcl: the integration, how its docs are found,
// and one component block per component page.
func Metadata(in Integration, comps []Component) string {
	var b strings.Builder
	b.WriteString("# Generated by `make generate` (internal/webdocs) from docs/: do not edit.\n")
	b.WriteString("# The format: https://github.com/hashicorp/integration-template#metadata-configuration\n")
	b.WriteString("integration {\n")
	fmt.Fprintf(&b, "  name        = %s\n", hclString(in.Name))
	fmt.Fprintf(&b, "  description = %s\n", hclString(in.Description))
	fmt.Fprintf(&b, "  identifier  = %s\n", hclString(in.Identifier))
	b.WriteString("  docs {\n")
	b.WriteString("    process_docs    = true\n")
	b.WriteString("    readme_location = \"./README.md\"\n")
	if in.ExternalURL != "" {
		fmt.Fprintf(&b, "    external_url    = %s\n", hclString(in.ExternalURL))
	}
	b.WriteString("  }\n")
	for _, c := range comps {
		b.WriteString("  component {\n")
		fmt.Fprintf(&b, "    type = %s\n", hclString(c.Type))
		fmt.Fprintf(&b, "    name = %s\n", hclString(c.Name))
		fmt.Fprintf(&b, "    slug = %s\n", hclString(c.Slug))
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// hclString quotes s as an HCL string literal: Go's escapes, which HCL
// shares, plus $${ and %%{ so that no template sequence is interpreted.
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}
