//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docBlock is one fenced code block of a doc.
type docBlock struct {
	file string // relative to the repository's root
	line int    // of the opening fence
	lang string // the fence's info string, lowercased: hcl, sh, json, ...
	text string
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docFiles are the docs users read: the root README, docs/*.md and every
// docs/**/*.mdx. .web-docs/ is generated from docs/ (the partials they
// include hold no examples), so its examples are these.
func docFiles(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".mdx") || strings.HasSuffix(p, ".md")) {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files[1:])
	return files
}

// fencedBlocks returns the ``` blocks of a doc, in order.
func fencedBlocks(t *testing.T, rel string) []docBlock {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	var body strings.Builder
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &docBlock{file: rel, line: n, lang: strings.ToLower(strings.TrimSpace(strings.TrimPrefix(trimmed, "```")))}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: the code block opened here is never closed", cur)
	}
	return blocks
}

// TestDocsExamples takes every ```hcl block of the docs as a complete
// template on its own and runs a full `packer validate` of it (every
// plugin's own checks: this plugin's, the real amazon plugin's, Packer's
// null builder and shell-local), from the repository's root, where the
// examples' paths (example/app, example/env/production.json) are. As in
// TestAWSExamplesValidate, AWS is a fake EC2 on loopback with fake
// credentials, and plain validate executes no data source: the fake must
// get no request. Each component page must have an example that uses its
// component, and every ```json block must parse.
func TestDocsExamples(t *testing.T) {
	requireAmazonPlugin(t)
	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())
	dir := t.TempDir()

	uses := map[string]*regexp.Regexp{
		"docs/provisioners/primal.mdx":     regexp.MustCompile(`(?m)^\s*provisioner "node-primal"`),
		"docs/provisioners/carnivore.mdx":  regexp.MustCompile(`(?m)^\s*provisioner "node-carnivore"`),
		"docs/datasources/ami.mdx":         regexp.MustCompile(`(?m)^\s*data "node-ami"`),
		"docs/datasources/fingerprint.mdx": regexp.MustCompile(`(?m)^\s*data "node-fingerprint"`),
		"docs/README.md":                   regexp.MustCompile(`(?m)^\s*required_plugins\s*\{`),
	}
	covered := map[string]bool{}
	perFile := map[string]int{}
	var hcpSBOM []string // examples that pair node-carnivore with hcp-sbom
	n := 0
	for _, rel := range docFiles(t) {
		for _, b := range fencedBlocks(t, rel) {
			switch b.lang {
			case "json":
				if !json.Valid([]byte(b.text)) {
					t.Errorf("%s: the json block does not parse", b)
				}
				continue
			case "hcl":
			default:
				continue
			}
			n++
			perFile[rel]++
			if re := uses[rel]; re != nil && re.MatchString(b.text) {
				covered[rel] = true
			}
			tpl := filepath.Join(dir, fmt.Sprintf("example-%02d.pkr.hcl", n))
			if err := os.WriteFile(tpl, []byte(b.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if hcpSBOMRE.MatchString(b.text) {
				hcpSBOM = append(hcpSBOM, tpl)
			}
			t.Run(strings.ReplaceAll(b.String(), "/", "_"), func(t *testing.T) {
				out, err := runPacker(t, "validate", tpl)
				if err != nil || !strings.Contains(out, "The configuration is valid.") {
					t.Fatalf("the example at %s is not a valid template on its own: %v\n%s--- the example:\n%s", b, err, out, b.text)
				}
			})
		}
	}
	for rel := range uses {
		if !covered[rel] {
			t.Errorf("%s has no complete example that uses its component (an hcl block matching %s)", rel, uses[rel])
		}
	}
	if n == 0 {
		t.Fatal("no hcl example found in the docs")
	}
	checkHCPSBOMPairing(t, dir, hcpSBOM)
	if c := fake.count(); c != 0 {
		t.Errorf("packer validate of the examples sent %d requests to AWS", c)
	}
	var per []string
	for _, rel := range docFiles(t) {
		if perFile[rel] > 0 {
			per = append(per, fmt.Sprintf("%s %d", rel, perFile[rel]))
		}
	}
	t.Logf("validated %d hcl examples: %s", n, strings.Join(per, ", "))
}

// TestGettingStartedCommands holds docs/getting-started.md to its promise:
// every command in its ```sh blocks is run by the tests or by `make demo`,
// or needs an AWS account. A `make` line must name targets the GNUmakefile
// has; `packer init` a template that exists; `packer build` is validated
// here with the same variables (a full `packer validate`, against the fake
// EC2); an `aws ec2 describe-images` may filter only on tags the template
// that makes the image sets; `curl` may only reach a documentation address
// (RFC 5737), the instance booted on AWS. Any other command fails the test.
func TestGettingStartedCommands(t *testing.T) {
	requireAmazonPlugin(t)
	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())
	root := repoRoot(t)

	makefile, err := os.ReadFile(filepath.Join(root, "GNUmakefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(makefile), -1) {
		targets[m[1]] = true
	}
	docNets := []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"}
	isDocAddr := func(host string) bool {
		ip := net.ParseIP(host)
		for _, c := range docNets {
			_, n, _ := net.ParseCIDR(c)
			if ip != nil && n.Contains(ip) {
				return true
			}
		}
		return false
	}

	counts := map[string]int{}
	for _, b := range fencedBlocks(t, "docs/getting-started.md") {
		if b.lang != "sh" {
			continue
		}
		for _, line := range strings.Split(b.text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Fields(line)
			switch {
			case f[0] == "make":
				for _, tg := range f[1:] {
					if !targets[tg] {
						t.Errorf("%s: `%s`: the GNUmakefile has no target %q", b, line, tg)
					}
				}
				counts["make"]++
			case len(f) == 3 && f[0] == "packer" && f[1] == "init":
				if _, err := os.Stat(filepath.Join(root, f[2])); err != nil {
					t.Errorf("%s: `%s`: %v", b, line, err)
				}
				counts["packer init (needs the plugins' releases; the template is validated with its build)"]++
			case len(f) > 2 && f[0] == "packer" && f[1] == "build":
				args := append([]string{"validate"}, f[2:]...)
				out, err := runPacker(t, args...)
				if err != nil || !strings.Contains(out, "The configuration is valid.") {
					t.Errorf("%s: `%s`: packer %s fails: %v\n%s", b, line, strings.Join(args, " "), err, out)
				}
				counts["packer build, validated"]++
			case len(f) > 2 && f[0] == "aws" && f[1] == "ec2":
				if f[2] == "describe-images" {
					checkTagFilters(t, b, line, f)
				}
				counts["aws (needs an account)"]++
			case f[0] == "curl" && len(f) == 2:
				u, err := url.Parse(f[1])
				if err != nil || !isDocAddr(u.Hostname()) {
					t.Errorf("%s: `%s`: curl in this guide may only reach the AWS instance, written as a documentation address (%v)", b, line, docNets)
				}
				counts["curl the AWS instance (needs an account)"]++
			default:
				t.Errorf("%s: `%s` is neither run by the tests or `make demo` nor an AWS command", b, line)
			}
		}
	}
	if counts["packer build, validated"] < 2 || counts["make"] == 0 {
		t.Errorf("want the demo and both AWS builds in the guide, found %v", counts)
	}
	if c := fake.count(); c != 0 {
		t.Errorf("packer validate sent %d requests to AWS", c)
	}
	t.Logf("commands: %v", counts)
}

// checkTagFilters checks that each Name=tag:KEY,Values=VALUE filter of an
// `aws ec2 describe-images` line is a tag the example that makes that
// image (Role=primal or Role=carnivore) sets.
func checkTagFilters(t *testing.T, b docBlock, line string, f []string) {
	t.Helper()
	filter := regexp.MustCompile(`^Name=tag:([A-Za-z_]+),Values=([A-Za-z0-9_.-]+)$`)
	tags := map[string]string{}
	for _, a := range f {
		if m := filter.FindStringSubmatch(a); m != nil {
			tags[m[1]] = m[2]
		}
	}
	role := tags["Role"]
	if role != "primal" && role != "carnivore" {
		t.Errorf("%s: `%s`: filter on Role=primal or Role=carnivore, the tag the examples set", b, line)
		return
	}
	tpl, err := os.ReadFile(filepath.Join(repoRoot(t), "example", "aws", role+".pkr.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*Role\s*=\s*"` + role + `"`).Match(tpl) {
		t.Errorf("example/aws/%s.pkr.hcl does not tag its image Role = %q", role, role)
	}
	for k := range tags {
		if !regexp.MustCompile(`(?m)^\s*` + k + `\s*=`).Match(tpl) {
			t.Errorf("%s: `%s` filters on the tag %s, which example/aws/%s.pkr.hcl does not set", b, line, k, role)
		}
	}
}

var hcpSBOMRE = regexp.MustCompile(`(?m)^\s*provisioner "hcp-sbom"`)

// checkHCPSBOMPairing: the docs' examples that pair node-carnivore with
// Packer's own hcp-sbom provisioner, and example/sandbox's template that
// does (which TestCarnivoreOnSandbox builds), are valid for Packer 1.16.0
// whatever PACKER_BIN is; the template's required_version turns older
// Packers (hcp-sbom came with 1.12.0) away with a clear message.
func checkHCPSBOMPairing(t *testing.T, dir string, docs []string) {
	t.Helper()
	if len(docs) == 0 {
		t.Error("no example in the docs pairs node-carnivore with hcp-sbom")
	}
	for _, tpl := range docs {
		b, _ := os.ReadFile(tpl)
		if !strings.Contains(string(b), `provisioner "node-carnivore"`) || !strings.Contains(string(b), "/usr/share/node-carnivore/") {
			t.Errorf("%s: the hcp-sbom example does not take node-carnivore's SBOM as its source", tpl)
		}
		if out, err := execPacker(t, packerBinary(t, "1.16.0"), nil, "validate", tpl); err != nil || !strings.Contains(out, "The configuration is valid.") {
			t.Errorf("Packer 1.16.0 does not validate the hcp-sbom example:\n%s", out)
		}
	}
	vars := []string{"-var", "host=192.0.2.1", "-var", "ssh_private_key_file=" + writeKey(t, dir)}
	if out, err := execPacker(t, packerBinary(t, "1.16.0"), nil, append(append([]string{"validate"}, vars...), hcpSBOMTemplate)...); err != nil || !strings.Contains(out, "The configuration is valid.") {
		t.Errorf("Packer 1.16.0 does not validate %s: %v\n%s", hcpSBOMTemplate, err, out)
	}
	out, err := execPacker(t, packerBinary(t, "1.11.2"), nil, append(append([]string{"validate"}, vars...), hcpSBOMTemplate)...)
	if err == nil || !strings.Contains(out, "does not support Packer version 1.11.2") {
		t.Errorf("Packer 1.11.2 (without hcp-sbom) did not refuse %s by its required_version: %v\n%s", hcpSBOMTemplate, err, out)
	}
}
