//go:build bench

// Package bench measures node-carnivore side by side with its alternatives,
// in one run, on the same kind of sandbox target, and prints the ratios.
// Run with `make bench` (root). Nothing here asserts a duration: the
// numbers are printed for people to read.
package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

func root() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(f), "..", ".."))
}

func packer(t *testing.T, args ...string) (string, time.Duration) {
	t.Helper()
	bin := os.Getenv("PACKER_BIN")
	if bin == "" {
		bin = filepath.Join(root(), ".tools", "bin", "packer")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root()
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("packer %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), d
}

func common(tgt *sandbox.Target) []string {
	return []string{"-var", "host=" + tgt.IP, "-var", "ssh_private_key_file=" + tgt.KeyPath}
}

func primal(t *testing.T, tgt *sandbox.Target, mirror *nodemirror.Mirror, extra ...string) time.Duration {
	cas, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	list := `["` + strings.Join(cas, `","`) + `"]`
	if len(cas) == 0 {
		list = "[]"
	}
	args := append([]string{"build"}, common(tgt)...)
	args = append(args, "-var", "https_proxy="+tgt.ProxyURL, "-var", "no_proxy="+tgt.HostIP,
		"-var", "node_mirror="+mirror.URL, "-var", `node_release_keys=["`+mirror.Key.PublicKey+`"]`,
		"-var", "node_version="+nodemirror.Node22, "-var", "ca_certificates="+list)
	args = append(append(args, extra...), "example/sandbox/primal.pkr.hcl")
	_, d := packer(t, args...)
	return d
}

func carnivore(t *testing.T, tgt *sandbox.Target, extra ...string) (string, time.Duration) {
	args := append([]string{"build"}, common(tgt)...)
	args = append(args, "-var", "https_proxy="+tgt.ProxyURL, "-var", "no_proxy="+tgt.HostIP)
	args = append(append(args, extra...), "example/sandbox/carnivore.pkr.hcl")
	return packer(t, args...)
}

var unpackRE = regexp.MustCompile(`\[\d+/\d+\] unpack the app into a new release: done in ([0-9.]+m?s)`)

// TestBenchCarnivore prints (a) carnivore on a primal image vs the same app
// on a bare base (primal without precache, then carnivore), and (b) the
// upload of a 10,000-file app tree by node-carnivore vs Packer's file
// provisioner.
func TestBenchCarnivore(t *testing.T) {
	mirror := nodemirror.Build(t, nodemirror.Node22)

	// (a) Same app, same kind of target, side by side.
	onPrimal := sandbox.New(t)
	m1 := nodemirror.Serve(t, mirror, onPrimal.HostIP+":0")
	primal(t, onPrimal, m1)
	_, tPrimalImage := carnivore(t, onPrimal)

	bare := sandbox.New(t)
	m2 := nodemirror.Serve(t, mirror, bare.HostIP+":0")
	tBasePart := primal(t, bare, m2, "-var", "package_json=")
	_, tBareCarn := carnivore(t, bare)
	tBare := tBasePart + tBareCarn

	// (b) A 10,000-file tree: the example app plus 100 dirs x 100 small files.
	tree := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(root(), "example", "app"), tree).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for d := 0; d < 100; d++ {
		dir := filepath.Join(tree, "assets", fmt.Sprintf("d%03d", d))
		os.MkdirAll(dir, 0o755)
		for f := 0; f < 100; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.js", f)), []byte(strings.Repeat(fmt.Sprintf("// file %d/%d\n", d, f), 40)), 0o644)
		}
	}
	out, tOursBuild := carnivore(t, onPrimal, "-var", "source_dir="+tree)
	m := unpackRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no unpack step timing in the output")
	}
	tOursUpload, _ := time.ParseDuration(m[1])
	uploadArgs := append(append([]string{"build"}, common(onPrimal)...), "-var", "source_dir="+tree, "example/sandbox/upload-file.pkr.hcl")
	_, tFile := packer(t, uploadArgs...)

	fmt.Printf("\n(a) app image build, same app (example/app), sandbox Debian:\n")
	fmt.Printf("    node-carnivore on a node-primal image:          %8s\n", tPrimalImage.Round(100*time.Millisecond))
	fmt.Printf("    on a bare base (primal w/o precache + carnivore): %6s  (primal part %s, carnivore part %s, precache miss)\n",
		tBare.Round(100*time.Millisecond), tBasePart.Round(100*time.Millisecond), tBareCarn.Round(100*time.Millisecond))
	fmt.Printf("    ratio bare / primal: %.1fx\n", float64(tBare)/float64(tPrimalImage))
	fmt.Printf("\n(b) uploading a 10,000-file app tree:\n")
	fmt.Printf("    node-carnivore unpack step (one streamed tar.gz): %8s  (whole carnivore build %s)\n", tOursUpload, tOursBuild.Round(100*time.Millisecond))
	fmt.Printf("    Packer's file provisioner (whole build):          %8s\n", tFile.Round(100*time.Millisecond))
	fmt.Printf("    ratio file provisioner / node-carnivore upload: %.1fx; / whole carnivore build: %.1fx\n\n",
		float64(tFile)/float64(tOursUpload), float64(tFile)/float64(tOursBuild))
}
