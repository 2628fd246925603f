//go:build bench

// Package bench measures the plugin side by side with what users would
// otherwise run, in one run, on the same kind of sandbox target, and prints
// the ratios: node-primal against the hand-written recipe it replaces,
// node-carnivore on a primal image against a bare base, uploads over links
// with latency against Packer's file provisioner, four builds at once, and
// the plugin's own overhead. Run with `make bench` (root), which also writes
// the table to docs/benchmarks.md. Nothing here asserts a duration: the
// numbers are printed for people to read; a test fails only when a build
// fails or does not do its job.
package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
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

func packerBin() string {
	if bin := os.Getenv("PACKER_BIN"); bin != "" {
		return bin
	}
	return filepath.Join(root(), ".tools", "bin", "packer")
}

// packer runs Packer in the repository and returns its output and wall time.
func packer(t *testing.T, args ...string) (string, time.Duration) {
	t.Helper()
	out, d, err := packerErr(args...)
	if err != nil {
		t.Fatalf("packer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, d
}

func packerErr(args ...string) (string, time.Duration, error) {
	cmd := exec.Command(packerBin(), args...)
	cmd.Dir = root()
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	return out.String(), time.Since(start), err
}

// link is how Packer reaches a target: directly, or through a port of
// Toxiproxy's on the host's loopback.
type link struct{ host, port string }

func direct(tgt *sandbox.Target) link { return link{tgt.IP, "22"} }

func common(tgt *sandbox.Target, l link) []string {
	return []string{"-var", "host=" + l.host, "-var", "ssh_port=" + l.port, "-var", "ssh_private_key_file=" + tgt.KeyPath}
}

// primal builds example/sandbox/primal.pkr.hcl on tgt with the test
// mirror m. The target already trusts the host's CAs (target.sh installs
// them), so no ca_certificates: the same work as the recipe's.
func primal(t *testing.T, tgt *sandbox.Target, m *nodemirror.Mirror, extra ...string) (string, time.Duration) {
	args := append([]string{"build"}, common(tgt, direct(tgt))...)
	args = append(args, "-var", "https_proxy="+tgt.ProxyURL, "-var", "no_proxy="+tgt.HostIP,
		"-var", "node_mirror="+m.URL, "-var", `node_release_keys=["`+m.Key.PublicKey+`"]`,
		"-var", "node_version="+nodemirror.Node22)
	args = append(append(args, extra...), "example/sandbox/primal.pkr.hcl")
	return packer(t, args...)
}

func carnivore(t *testing.T, tgt *sandbox.Target, l link, extra ...string) (string, time.Duration) {
	args := append([]string{"build"}, common(tgt, l)...)
	args = append(args, "-var", "https_proxy="+tgt.ProxyURL, "-var", "no_proxy="+tgt.HostIP)
	args = append(append(args, extra...), "example/sandbox/carnivore.pkr.hcl")
	return packer(t, args...)
}

// step is one timed step of a build, as the runner (or the recipe) printed it.
type step struct {
	Name string
	D    time.Duration
}

var stepRE = regexp.MustCompile(`(?m)node-(?:primal|carnivore): \[\d+/\d+\] (.*): done in ([0-9.]+(?:ms|s|m[0-9.]*s?))\s*$`)

// steps are the plugin's step timings in a build's output.
func steps(out string) []step {
	var s []step
	for _, m := range stepRE.FindAllStringSubmatch(out, -1) {
		d, _ := time.ParseDuration(m[2])
		s = append(s, step{m[1], d})
	}
	return s
}

// stepTime is the time of the first step whose name starts with prefix.
func stepTime(t *testing.T, out, prefix string) time.Duration {
	t.Helper()
	for _, s := range steps(out) {
		if strings.HasPrefix(s.Name, prefix) {
			return s.D
		}
	}
	t.Fatalf("no timing of a step %q in the output:\n%s", prefix, out)
	return 0
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s" }

func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

// TestBench runs every benchmark, one after another.
func TestBench(t *testing.T) {
	t.Run("primal", benchPrimal)
	t.Run("upload", benchUpload)
	t.Run("carnivore", benchCarnivore)
	t.Run("fleet", benchFleet)
	t.Run("overhead", benchOverhead)
}

// benchCarnivore: node-carnivore on a node-primal image against the
// same app on a bare base (primal without the precache, then carnivore).
func benchCarnivore(t *testing.T) {
	mirror := nodemirror.Build(t, nodemirror.Node22)

	onPrimal := sandbox.New(t)
	m1 := nodemirror.Serve(t, mirror, onPrimal.HostIP+":0")
	primal(t, onPrimal, m1)
	_, tPrimalImage := carnivore(t, onPrimal, direct(onPrimal))

	bare := sandbox.New(t)
	m2 := nodemirror.Serve(t, mirror, bare.HostIP+":0")
	_, tBasePart := primal(t, bare, m2, "-var", "package_json=")
	_, tBareCarn := carnivore(t, bare, direct(bare))
	tBare := tBasePart + tBareCarn

	record("app image", "node-carnivore on a node-primal image (example/app)", secs(tPrimalImage), "")
	record("app image", "same app on a bare base: primal w/o precache + carnivore", secs(tBare),
		fmt.Sprintf("%s + %s; bare / on primal = **%s**", secs(tBasePart), secs(tBareCarn), ratio(tBare, tPrimalImage)))
}
