//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
	"github.com/nodebake/packer-plugin-node/version"
)

// testedPackers are the Packer releases the compatibility tier runs, oldest
// first: 1.9.4, the last MPL-2.0 release (no `plugins install --path`), 1.11.2,
// and 1.16.0, the default, which negotiates the newer plugin protocol.
var testedPackers = []string{"1.9.4", "1.11.2", "1.16.0"}

// TestPackerVersions is the compatibility tier. For each tested Packer, in a
// plugin directory of its own, it installs the plugin (a release build, as
// `packer init` would fetch it) and the amazon and qemu builders the way that
// Packer installs local binaries, then runs
//   - a full `packer validate` of every example template,
//   - a node-ami lookup in a `packer build`, and an evaluated validate of
//     example/aws/carnivore.pkr.hcl, against a fake EC2 on loopback,
//   - node-primal then node-carnivore with the sandbox examples against a
//     sandbox target of its own, the app checked through port 80.
//
// Binaries: $PACKER_BIN_1_9_4, $PACKER_BIN_1_11_2, $PACKER_BIN_1_16_0, by
// default .tools/bin/packer-<version> (make packers). $PACKER_VERSIONS
// (comma-separated) limits the versions; $PACKER_VERSIONS_SANDBOX limits the
// ones that also run the sandbox pair (default: all).
func TestPackerVersions(t *testing.T) {
	root := repoRoot(t)
	versions := envList("PACKER_VERSIONS", testedPackers)
	sandboxed := envList("PACKER_VERSIONS_SANDBOX", versions)
	bins := map[string]string{}
	for _, v := range versions {
		if !slices.Contains(testedPackers, v) {
			t.Fatalf("PACKER_VERSIONS names %s; the tier knows %v", v, testedPackers)
		}
		bins[v] = packerBinary(t, v)
	}

	work := t.TempDir()
	node := buildReleasePlugin(t, work)
	amazon := toolBinary(t, root, "packer-plugin-amazon", "make amazon-plugin")
	qemu := toolBinary(t, root, "packer-plugin-qemu", "make qemu-plugin")
	key := writeKey(t, work)
	uploadDir := filepath.Join(work, "upload")
	if err := os.Mkdir(uploadDir, 0o755); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{ // what the examples' variables without default get
		"host":                 "192.0.2.1", // TEST-NET-1: validate connects nowhere
		"ssh_private_key_file": key,
		"source_dir":           uploadDir,
		"base_image":           filepath.Join(root, "example", "app", "package.json"), // any existing file
		"primal_image":         filepath.Join(root, "example", "app", "package.json"),
		"output_directory":     filepath.Join(work, "no-such-output"),
	}

	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())
	t.Setenv("AWS_REGION", "us-east-1") // example/ami's region defaults to it

	var mirrorDir string
	if len(sandboxed) > 0 {
		mirrorDir = nodemirror.Build(t, nodeNew)
	}

	for _, v := range versions {
		t.Run("packer-"+v, func(t *testing.T) {
			ph := newPhases(t)
			pp := t.TempDir()
			t.Setenv("PACKER_BIN", bins[v])
			t.Setenv("PACKER_PLUGIN_PATH", pp)
			t.Setenv("PACKER_CONFIG_DIR", t.TempDir())

			out, _ := execPacker(t, bins[v], nil, "version")
			if !strings.Contains(out, "Packer v"+v) {
				t.Fatalf("%s is not Packer %s: %q", bins[v], v, out)
			}
			// node and amazon first: both speak protobuf, so Packer 1.12
			// and later use it for every plugin until qemu, whose SDK
			// predates it, is installed (then all of them speak gob).
			ph.run("install node and amazon", func() {
				installPluginFor(t, v, pp, node, "github.com/nodebake/node")
				installPluginFor(t, v, pp, amazon, "github.com/hashicorp/amazon")
			})
			if t.Failed() {
				t.FailNow()
			}
			if v != "1.9.4" && v != "1.11.2" {
				ph.run("protobuf negotiated", func() { checkProtobuf(t, key) })
			}
			ph.run("node-ami against the fake EC2", func() { nodeAMILookup(t, fake) })
			if slices.Contains(sandboxed, v) {
				sandboxPair(t, ph, mirrorDir)
			} else {
				t.Logf("the sandbox pair does not run on Packer %s here (PACKER_VERSIONS_SANDBOX=%s); "+
					"make e2e-packer-versions runs it on every version", v, strings.Join(sandboxed, ","))
			}

			ph.run("install qemu", func() {
				installPluginFor(t, v, pp, qemu, "github.com/hashicorp/qemu")
				out, err := runPacker(t, "plugins", "installed")
				if err != nil {
					t.Fatalf("packer plugins installed: %v\n%s", err, out)
				}
				for _, want := range []string{
					"github.com/nodebake/node/packer-plugin-node_v" + version.Version + "_x5.",
					"github.com/hashicorp/amazon/packer-plugin-amazon_v",
					"github.com/hashicorp/qemu/packer-plugin-qemu_v",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("packer plugins installed does not list %s:\n%s", want, out)
					}
				}
			})
			ph.run("packer validate every example", func() {
				fake.reset(nil)
				validateExamples(t, root, v, vars)
				if n := fake.count(); n != 0 {
					t.Errorf("plain packer validate sent %d requests to the fake EC2; it executes no data source", n)
				}
			})
			if v == "1.9.4" {
				ph.run("Packer 1.9's manual installs", func() {
					t.Run("manual installs", func(t *testing.T) { manualInstallsOn19(t, node) })
				})
			}
		})
	}
}

// envList is a comma-separated list from the environment, or def.
func envList(name string, def []string) []string {
	s, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// packerBinary is Packer v's binary: $PACKER_BIN_<v with underscores>, or
// .tools/bin/packer-<v>.
func packerBinary(t *testing.T, v string) string {
	env := "PACKER_BIN_" + strings.ReplaceAll(v, ".", "_")
	bin := os.Getenv(env)
	if bin == "" {
		bin = filepath.Join(repoRoot(t), ".tools", "bin", "packer-"+v)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Packer %s at %s: run `make e2e-packer-versions` (or `make packers`), or set %s", v, bin, env)
	}
	return bin
}

// toolBinary is a plugin binary the Makefile builds into .tools/bin.
func toolBinary(t *testing.T, root, name, target string) string {
	bin := filepath.Join(root, ".tools", "bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no %s at %s: run `%s` first", name, bin, target)
	}
	return bin
}

// buildReleasePlugin builds the plugin as a release is built (the ldflags of
// .goreleaser.yml: no "dev" pre-release marker), so that every Packer sees
// the version `packer init` would install.
func buildReleasePlugin(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "packer-plugin-node")
	cmd := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-s -w -X github.com/nodebake/packer-plugin-node/version.VersionPrerelease=", ".")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the release-form plugin: %v\n%s", err, out)
	}
	if v := describeVersion(t, bin); v != version.Version {
		t.Fatalf("the release-form plugin describes itself as %q, want %q", v, version.Version)
	}
	return bin
}

// pluginDescription is what a plugin binary's `describe` prints.
type pluginDescription struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
}

func describe(t *testing.T, bin string) pluginDescription {
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatalf("%s describe: %v", bin, err)
	}
	var d pluginDescription
	if err := json.Unmarshal(out, &d); err != nil || d.Version == "" || d.APIVersion == "" {
		t.Fatalf("%s describe: %v: %s", bin, err, out)
	}
	return d
}

func describeVersion(t *testing.T, bin string) string { return describe(t, bin).Version }

// installPluginFor installs a local plugin binary for Packer v. Packer 1.10
// and later: `packer plugins install --path`. Packer 1.9 has no --path: a
// local binary is placed where `packer init` would put the release, named
// packer-plugin-<name>_v<version>_<api>_<os>_<arch> with a _SHA256SUM file
// beside it (a bare packer-plugin-<name> in the plugin directory is loaded
// too, but does not satisfy a template's required_plugins).
func installPluginFor(t *testing.T, v, pp, bin, source string) {
	t.Helper()
	if v != "1.9.4" {
		out, err := execPacker(t, os.Getenv("PACKER_BIN"), nil, "plugins", "install", "--path", bin, source)
		if err != nil || !strings.Contains(out, "Successfully installed plugin "+source) {
			t.Fatalf("packer plugins install --path %s %s: %v\n%s", bin, source, err, out)
		}
		return
	}
	d := describe(t, bin)
	name := filepath.Base(source)
	dst := filepath.Join(pp, filepath.FromSlash(source),
		fmt.Sprintf("packer-plugin-%s_v%s_%s_%s_%s", name, d.Version, d.APIVersion, runtime.GOOS, runtime.GOARCH))
	copyPlugin(t, bin, dst)
}

// copyPlugin copies bin to dst (mode 0755) and writes dst_SHA256SUM, the
// hex sha256 Packer checks before it runs an installed plugin.
func copyPlugin(t *testing.T, bin, dst string) {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if err := os.WriteFile(dst+"_SHA256SUM", []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	variableBlock = regexp.MustCompile(`(?ms)^variable "([^"]+)" \{\n(.*?)^\}`)
	defaultAttr   = regexp.MustCompile(`(?m)^\s*default\s*=`)
)

// validateExamples runs a full `packer validate` of every example template,
// giving each of its variables without a default the value in vars.
func validateExamples(t *testing.T, root, version string, vars map[string]string) {
	t.Helper()
	templates, err := filepath.Glob(filepath.Join(root, "example", "*", "*.pkr.hcl"))
	if err != nil || len(templates) < 7 {
		t.Fatalf("want the examples' templates (sandbox, local, aws, ami), found %v (%v)", templates, err)
	}
	for _, abs := range templates {
		rel, _ := filepath.Rel(root, abs)
		b, err := os.ReadFile(abs)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"validate"}
		for _, m := range variableBlock.FindAllStringSubmatch(string(b), -1) {
			if val, ok := vars[m[1]]; ok && !defaultAttr.MatchString(m[2]) {
				args = append(args, "-var", m[1]+"="+val)
			}
		}
		out, err := runPacker(t, append(args, rel)...)
		// A template for a newer Packer (hcp-sbom needs 1.12) must be
		// refused by an older one, saying so.
		if m := requiredMinor.FindStringSubmatch(string(b)); m != nil && minorOf(version) < atoi(m[1]) {
			if err == nil || !strings.Contains(out, "Unsupported Packer Core version") {
				t.Errorf("Packer %s did not refuse %s, which requires Packer >= 1.%s: %v\n%s", version, rel, m[1], err, out)
			}
			continue
		}
		if err != nil || !strings.Contains(out, "The configuration is valid.") {
			t.Errorf("packer validate %s failed: %v\n%s", rel, err, out)
		}
	}
}

// requiredMinor reads a template's `required_version = ">= 1.N.x"`.
var requiredMinor = regexp.MustCompile(`required_version\s*=\s*">=\s*1\.(\d+)\.`)

// minorOf is the minor version of a Packer version "1.N.x".
func minorOf(v string) int {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0
	}
	return atoi(parts[1])
}

// checkProtobuf checks that Packer talks protobuf to the plugins, as Packer
// 1.12 and later do when every installed plugin supports it.
func checkProtobuf(t *testing.T, key string) {
	t.Helper()
	// Not streamed: the debug log is long.
	cmd := exec.Command(os.Getenv("PACKER_BIN"), "validate",
		"-var", "host=192.0.2.1", "-var", "ssh_private_key_file="+key, primalTemplate)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_LOG=1")
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil || !strings.Contains(out, "The configuration is valid.") {
		t.Fatalf("packer validate %s: %v\n%s", primalTemplate, err, out)
	}
	if !strings.Contains(out, "Using protobuf for communication with plugins") {
		t.Errorf("Packer did not use protobuf with the node and amazon plugins")
	}
}

// nodeAMITemplate reads node-ami's outputs in a build that makes nothing.
const nodeAMITemplate = `
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

data "node-ami" "primal" {
  app_name = "ponyfoo"
  region   = "us-east-1"
}

source "null" "lookup" {
  communicator = "none"
}

build {
  sources = ["source.null.lookup"]

  provisioner "shell-local" {
    inline = ["echo node-ami found id=${data.node-ami.primal.id} name=${data.node-ami.primal.name}"]
  }
}
`

// nodeAMILookup runs node-ami in a `packer build`, then in an evaluated
// validate of the AWS release example, both against the fake EC2.
func nodeAMILookup(t *testing.T, fake *fakeEC2) {
	t.Helper()
	tpl := filepath.Join(t.TempDir(), "lookup.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(nodeAMITemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	fake.reset([]ec2Image{awsImage(awsExampleImageID, awsExampleImageName, "2023-11-14T22:13:20.000Z")})
	out, err := runPacker(t, "build", tpl)
	if err != nil {
		t.Fatalf("packer build with node-ami failed: %v\n%s", err, out)
	}
	if want := "node-ami found id=" + awsExampleImageID + " name=" + awsExampleImageName; !strings.Contains(out, want) {
		t.Errorf("packer build output lacks %q:\n%s", want, out)
	}
	if reqs := fake.requests(); len(reqs) != 1 {
		t.Errorf("want 1 DescribeImages request, the fake got %d", len(reqs))
	} else {
		checkDescribeImages(t, reqs[0], "ponyfoo-primal *")
	}

	fake.reset([]ec2Image{awsImage(awsExampleImageID, awsExampleImageName, "2023-11-14T22:13:20.000Z")})
	out, err = runPacker(t, "validate", "-evaluate-datasources", "example/aws/carnivore.pkr.hcl")
	if err != nil || !strings.Contains(out, "The configuration is valid.") {
		t.Errorf("packer validate -evaluate-datasources example/aws/carnivore.pkr.hcl failed: %v\n%s", err, out)
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("the evaluated validate sent %d DescribeImages requests, want 1", n)
	}
}

// manualInstallsOn19 shows what the docs say of Packer 1.9: it matches
// required_plugins against the installed file's version as is, so a
// development build (0.1.0-dev) does not satisfy `>= 0.1.0` (Packer 1.11.2 and
// 1.16.0 compare the version without its pre-release marker); and a bare
// packer-plugin-node in the plugin directory is loaded, but only templates
// without required_plugins can use it.
func manualInstallsOn19(t *testing.T, release string) {
	t.Helper()
	d := describe(t, release)
	valid := []string{"validate", "-var", "host=192.0.2.1", "-var", "ssh_private_key_file=/dev/null", primalTemplate}

	t.Setenv("PACKER_PLUGIN_PATH", t.TempDir())
	copyPlugin(t, release, filepath.Join(os.Getenv("PACKER_PLUGIN_PATH"), "github.com", "nodebake", "node",
		fmt.Sprintf("packer-plugin-node_v%s-dev_%s_%s_%s", d.Version, d.APIVersion, runtime.GOOS, runtime.GOARCH)))
	out, err := runPacker(t, valid...)
	if err == nil || !strings.Contains(out, "Missing plugins") || !strings.Contains(out, "github.com/nodebake/node >= 0.1.0") {
		t.Errorf("Packer 1.9.4 accepted a -dev build for node >= 0.1.0 (err %v); the docs say it does not:\n%s", err, out)
	}

	bare := t.TempDir()
	t.Setenv("PACKER_PLUGIN_PATH", bare)
	copyPlugin(t, release, filepath.Join(bare, "packer-plugin-node"))
	out, err = execPacker(t, os.Getenv("PACKER_BIN"), nil, valid...)
	if err == nil || !strings.Contains(out, "Missing plugins") {
		t.Errorf("Packer 1.9.4 took a bare packer-plugin-node for required_plugins (err %v); the docs say it does not:\n%s", err, out)
	}
	tpl := filepath.Join(t.TempDir(), "bare.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(`
source "null" "x" { communicator = "none" }
build {
  sources = ["source.null.x"]
  provisioner "node-primal" { node_version = "22" }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execPacker(t, os.Getenv("PACKER_BIN"), nil, "validate", tpl)
	if err != nil || !strings.Contains(out, "The configuration is valid.") {
		t.Errorf("Packer 1.9.4 did not load a bare packer-plugin-node for a template without required_plugins: %v\n%s", err, out)
	}
}

// sandboxPair runs the sandbox examples, node-primal then node-carnivore, on
// a target of their own, and checks the app answers through port 80.
func sandboxPair(t *testing.T, ph *phases, mirrorDir string) {
	t.Helper()
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	mirror := nodemirror.Serve(t, mirrorDir, tgt.HostIP+":0")
	var out string
	ph.run("node-primal (example/sandbox/primal.pkr.hcl)", func() {
		var err error
		if out, err = runPacker(t, primalArgs(t, tgt, mirror, "-var", "node_version="+nodeNew)...); err != nil {
			t.Fatalf("primal build failed: %v", err)
		}
	})
	for _, want := range []string{
		"node-primal:   Node.js:     v" + nodeNew + ", npm ",
		"node-primal:   precache:    /home/node/app/precache: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the primal build's output lacks %q", want)
		}
	}
	ph.run("node-carnivore (example/sandbox/carnivore.pkr.hcl)", func() {
		var err error
		if out, err = runPacker(t, carnivoreArgs(tgt)...); err != nil {
			t.Fatalf("carnivore build failed: %v", err)
		}
	})
	for _, want := range []string{
		"node-carnivore: precache hit: package-lock.json (sha256 ",
		"node-carnivore:   health:       GET /healthz answered 200 through :80",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the carnivore build's output lacks %q", want)
		}
	}
	checkSecretsNotShown(t, out)
	ph.run("check the app", func() { checkCarnivore(t, tgt) })
}
