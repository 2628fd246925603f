//go:build e2e && unix

package ami

// The packer-level test: the real plugin binary, installed the way users
// install it, evaluated by a real `packer build` whose EC2 endpoint is the
// fake (through AWS_ENDPOINT_URL_EC2). Run it with
//
//	go test -tags e2e -run TestPackerBuildEvaluatesNodeAMI ./datasource/ami/
//
// Packer comes from $PACKER_BIN, by default <repo>/.tools/bin/packer; set
// NODE_PLUGIN_BIN to test an already built plugin instead of building one.

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const e2eTemplate = `
variable "access_key" {
  type      = string
  sensitive = true
}

variable "secret_key" {
  type      = string
  sensitive = true
}

variable "app_name" {
  type = string
}

data "node-ami" "primal" {
  app_name   = var.app_name
  region     = "us-east-1"
  owners     = ["self"]
  tags       = { app = var.app_name }
  access_key = var.access_key
  secret_key = var.secret_key
}

source "null" "e2e" {
  communicator = "none"
}

build {
  sources = ["source.null.e2e"]

  provisioner "shell-local" {
    inline = ["echo node-ami says id=${data.node-ami.primal.id} name=${data.node-ami.primal.name} created=${data.node-ami.primal.creation_date} app_tag=${data.node-ami.primal.tags.app}"]
  }
}
`

// e2eBlackHoleTemplate looks an image up at an EC2 endpoint that accepts
// connections and never answers.
const e2eBlackHoleTemplate = `
variable "access_key" {
  type      = string
  sensitive = true
}

variable "secret_key" {
  type      = string
  sensitive = true
}

variable "endpoint" {
  type = string
}

data "node-ami" "primal" {
  app_name            = "ponyfoo"
  region              = "us-east-1"
  custom_endpoint_ec2 = var.endpoint
  timeout             = "5s"
  access_key          = var.access_key
  secret_key          = var.secret_key
}

source "null" "e2e" {
  communicator = "none"
}

build {
  sources = ["source.null.e2e"]

  provisioner "shell-local" {
    inline = ["echo node-ami says id=${data.node-ami.primal.id}"]
  }
}
`

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/nodebake/packer-plugin-node\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (go.mod of github.com/nodebake/packer-plugin-node)")
		}
		dir = parent
	}
}

func run(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	// packer re-executes itself and starts plugins, which hold the output
	// pipe: when ctx runs out, kill the whole process group, and stop
	// waiting for the pipe soon after, so that a hung build fails the test
	// instead of hanging it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func TestPackerBuildEvaluatesNodeAMI(t *testing.T) {
	root := repoRoot(t)
	packer := os.Getenv("PACKER_BIN")
	if packer == "" {
		packer = filepath.Join(root, ".tools", "bin", "packer")
	}
	if _, err := os.Stat(packer); err != nil {
		t.Fatalf("no packer binary at %s (build the project's tools first, or set PACKER_BIN): %v", packer, err)
	}

	const (
		e2eAccessKey = "AKIDNODEAMIE2E"
		e2eSecretKey = "e2e-secret-must-never-show-0123456789"
	)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	work := t.TempDir()

	// Built with the developer's environment (its HOME holds the Go caches),
	// before isolateAWS replaces HOME.
	plugin := os.Getenv("NODE_PLUGIN_BIN")
	if plugin == "" {
		plugin = filepath.Join(work, "packer-plugin-node")
		if out, err := run(t, ctx, root, os.Environ(), "go", "build", "-o", plugin, "."); err != nil {
			t.Fatalf("building the plugin: %v\n%s", err, out)
		}
	}

	isolateAWS(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID") // the template's sensitive variables bring the keys
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")

	f := newFakeAWS(t)
	pages := map[string]string{ // NextToken -> answer
		"": describeImagesXML([]fakeImage{
			{ID: "ami-0e2e00000000old1", Name: "ponyfoo-primal 1700000000", Created: "2023-11-14T22:13:20.000Z", Tags: map[string]string{"app": "ponyfoo"}},
		}, "page-2"),
		"page-2": describeImagesXML([]fakeImage{
			{ID: "ami-0e2e0000000newest", Name: "ponyfoo-primal 1714557601", Created: "2024-05-01T10:00:01.250Z", Tags: map[string]string{"app": "ponyfoo"}},
			{ID: "ami-0e2e00000000old2", Name: "ponyfoo-primal 1714557600", Created: "2024-05-01T10:00:00.000Z", Tags: map[string]string{"app": "ponyfoo"}},
		}, ""),
	}
	f.describe = func(_ int, form url.Values) answer {
		if form.Get("Filter.1.Value.1") != "ponyfoo-primal *" {
			return answer{200, describeImagesXML(nil, "")}
		}
		body, ok := pages[form.Get("NextToken")]
		if !ok {
			t.Errorf("unexpected NextToken %q", form.Get("NextToken"))
			return answer{400, ec2ErrorXML("InvalidParameterValue", "bad token")}
		}
		return answer{200, body}
	}

	env := append(os.Environ(),
		"CHECKPOINT_DISABLE=1",
		"PACKER_PLUGIN_PATH="+filepath.Join(work, "plugins"),
		"PACKER_CONFIG_DIR="+filepath.Join(work, "packer-config"),
		"PACKER_CACHE_DIR="+filepath.Join(work, "packer-cache"),
		"PACKER_NO_COLOR=1",
		"PACKER_LOG=1", // the plugin's own log too: the secret must not appear in it
		"AWS_ENDPOINT_URL_EC2="+f.URL(),
		"PKR_VAR_access_key="+e2eAccessKey,
		"PKR_VAR_secret_key="+e2eSecretKey,
	)

	out, err := run(t, ctx, work, env, packer, "plugins", "install", "--path", plugin, "github.com/nodebake/node")
	if err != nil {
		t.Fatalf("packer plugins install: %v\n%s", err, out)
	}
	installed, _ := filepath.Glob(filepath.Join(work, "plugins", "github.com", "nodebake", "node", "packer-plugin-node_*"))
	if len(installed) == 0 {
		t.Fatalf("packer plugins install put no binary under %s:\n%s", filepath.Join(work, "plugins"), out)
	}

	tpl := filepath.Join(work, "ami.pkr.hcl")
	if err := os.WriteFile(tpl, []byte(e2eTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	blackHoleTpl := filepath.Join(work, "blackhole", "ami.pkr.hcl")
	if err := os.MkdirAll(filepath.Dir(blackHoleTpl), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blackHoleTpl, []byte(e2eBlackHoleTemplate), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("build shows the newest id", func(t *testing.T) {
		out, err := run(t, ctx, work, env, packer, "build", "-color=false", "-var", "app_name=ponyfoo", tpl)
		logOutput(t, out)
		if err != nil {
			t.Fatalf("packer build: %v\n%s", err, out)
		}
		want := "node-ami says id=ami-0e2e0000000newest name=ponyfoo-primal 1714557601 created=2024-05-01T10:00:01.250Z app_tag=ponyfoo"
		if !strings.Contains(out, want) {
			t.Fatalf("packer build output lacks %q:\n%s", want, out)
		}
		// PACKER_LOG=1 brought the plugin's own log into the output, so the
		// check below covers it too.
		if !strings.Contains(out, "node-ami: AWS credentials from StaticCredentials") {
			t.Errorf("the plugin's log is not in packer's output (PACKER_LOG=1):\n%s", out)
		}
		if strings.Contains(out, e2eSecretKey) {
			t.Errorf("the secret key appears in packer's output:\n%s", linesWith(out, e2eSecretKey))
		}
		reqs := f.actions("DescribeImages")
		if len(reqs) != 2 {
			t.Fatalf("%d DescribeImages requests, want 2 (two pages)", len(reqs))
		}
		form := reqs[0].Form
		for k, v := range map[string]string{
			"Filter.1.Value.1": "ponyfoo-primal *",
			"Filter.3.Name":    "tag:app",
			"Filter.3.Value.1": "ponyfoo",
			"Owner.1":          "self",
		} {
			if got := form.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if auth := reqs[0].Header.Get("Authorization"); !strings.Contains(auth, "Credential="+e2eAccessKey+"/") {
			t.Errorf("DescribeImages not signed with the template's access_key: %q", auth)
		}
	})

	t.Run("none found fails the build with the search", func(t *testing.T) {
		out, err := run(t, ctx, work, env, packer, "build", "-color=false", "-var", "app_name=nosuchapp", tpl)
		logOutput(t, out)
		if err == nil {
			t.Fatalf("packer build succeeded without a matching image:\n%s", out)
		}
		for _, want := range []string{
			"no available image found",
			`name pattern "nosuchapp-primal *"`,
			"owners [self]",
			`tags {app="nosuchapp"}`,
			"region us-east-1",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("packer build output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, e2eSecretKey) {
			t.Errorf("the secret key appears in packer's output:\n%s", linesWith(out, e2eSecretKey))
		}
	})

	t.Run("a silent endpoint fails the build after timeout", func(t *testing.T) {
		bh := newBlackHole(t)
		// Bounded well above the template's 5 s, so that a lookup that
		// hangs fails this test instead of hanging it.
		const bound = 90 * time.Second
		bctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		start := time.Now()
		out, err := run(t, bctx, work, env, packer, "build", "-color=false", "-var", "endpoint="+bh.URL(), blackHoleTpl)
		took := time.Since(start)
		logOutput(t, out)
		t.Logf("packer build returned after %s", took.Round(time.Millisecond))
		if bctx.Err() != nil {
			t.Fatalf("packer build still running after %s against a silent endpoint (killed):\n%s", bound, out)
		}
		if err == nil {
			t.Fatalf("packer build succeeded against an endpoint that never answers:\n%s", out)
		}
		if took < 5*time.Second {
			t.Errorf("packer build failed after %s, before the template's 5s timeout", took)
		}
		for _, want := range []string{
			"timed out after 5s",
			"the EC2 endpoint " + bh.URL() + " (region us-east-1) did not answer DescribeImages",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("packer build output lacks %q:\n%s", want, out)
			}
		}
		if bh.connections() < 1 {
			t.Errorf("the black hole accepted no connection: the build never reached it")
		}
		if strings.Contains(out, e2eSecretKey) {
			t.Errorf("the secret key appears in packer's output:\n%s", linesWith(out, e2eSecretKey))
		}
	})
}

// logOutput shows packer's own lines (not PACKER_LOG's) under go test -v.
func logOutput(t *testing.T, out string) {
	t.Helper()
	if !testing.Verbose() {
		return
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !logLine.MatchString(sc.Text()) {
			b.WriteString(sc.Text() + "\n")
		}
	}
	t.Logf("packer output (without PACKER_LOG lines):\n%s", b.String())
}

var logLine = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} `)

func linesWith(out, s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String()
}
