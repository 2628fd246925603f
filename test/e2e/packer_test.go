//go:build e2e

// Package e2e runs the built plugin in real `packer build`s against real
// targets and checks the result on the target itself. Run through
// `make e2e`, which builds Packer and installs the plugin first.
package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository's top directory, found from this file.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// packer returns the Packer binary and checks the plugin is installed where
// PACKER_PLUGIN_PATH points, as `make e2e` (through `make dev`) arranges.
func packer(t testing.TB) string {
	bin := os.Getenv("PACKER_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), ".tools", "bin", "packer")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Packer binary at %s: run the e2e tests with `make e2e`", bin)
	}
	pp := os.Getenv("PACKER_PLUGIN_PATH")
	matches, _ := filepath.Glob(filepath.Join(pp, "github.com", "nodebake", "node", "packer-plugin-node_*"))
	if pp == "" || len(matches) == 0 {
		t.Fatalf("the plugin is not installed under PACKER_PLUGIN_PATH=%q: run the e2e tests with `make e2e`", pp)
	}
	return bin
}

// runPacker runs packer with args from the repository root and returns its
// combined output; the output is also logged so a failed run can be read.
func runPacker(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return runPackerEnv(t, nil, args...)
}

// runPackerEnv is runPacker with more environment variables (PACKER_LOG,
// PKR_VAR_...).
func runPackerEnv(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	return execPacker(t, packer(t), env, args...)
}

// execPacker runs the Packer binary bin, whether or not the plugin is
// installed yet (runPackerEnv checks that it is).
func execPacker(t testing.TB, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1"), env...)
	var out bytes.Buffer
	var w io.Writer = &out
	if testing.Verbose() {
		// Stream long builds as they run: a test that times out still
		// shows how far Packer got.
		w = io.MultiWriter(&out, os.Stdout)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if !testing.Verbose() {
		t.Logf("packer %s:\n%s", strings.Join(args, " "), out.String())
	}
	return out.String(), err
}

// phases records how long each phase of a test took and logs a summary.
type phases struct {
	t     testing.TB
	names []string
	took  []time.Duration
	start time.Time
}

func newPhases(t testing.TB) *phases {
	p := &phases{t: t, start: time.Now()}
	t.Cleanup(p.report)
	return p
}

func (p *phases) run(name string, f func()) {
	start := time.Now()
	f()
	p.names = append(p.names, name)
	p.took = append(p.took, time.Since(start))
}

func (p *phases) report() {
	var b strings.Builder
	for i, n := range p.names {
		b.WriteString("  " + n + ": " + p.took[i].Round(100*time.Millisecond).String() + "\n")
	}
	p.t.Logf("phase timings (%s in all):\n%s", time.Since(p.start).Round(100*time.Millisecond), b.String())
}

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
