// Package sandbox gives end-to-end tests a real machine to provision: a
// disposable Debian bookworm booted with systemd as PID 1 in a network
// namespace of its own, reachable over SSH from the host, as Packer's
// built-in `null` builder needs it.
//
// The work is done by target.sh beside this file (see its header for what a
// target is made of); this package runs it and cleans up after the test:
//
//	tg := sandbox.New(t) // skips unless root; destroyed when t finishes
//	out := tg.MustRun(t, "systemctl is-system-running --wait")
//
// A target reaches nothing but the host's Debian mirror and npm registry,
// through an allowlisting proxy on the host. Log in as root or as
// [AdminUser] (passwordless sudo, like a cloud image's default user) with
// the private key at [Target.KeyPath].
package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AdminUser is the non-root user with passwordless sudo in every target.
const AdminUser = "admin"

// createTimeout bounds target.sh create, including a cold rootfs build.
const createTimeout = 15 * time.Minute

// destroyTimeout bounds target.sh destroy.
const destroyTimeout = 2 * time.Minute

// Target is one running sandbox machine.
type Target struct {
	Name           string // also its hostname
	IP             string // the target's address, reachable from the host
	HostIP         string // the host's address on the target's link
	ProxyURL       string // the egress proxy the target uses
	KeyPath        string // private SSH key for root and AdminUser
	KnownHostsPath string // known_hosts with the target's host key
	NetNS          string // network namespace (ip netns)
	HostVeth       string // host side of the veth pair
	RootFS         string // the target's root filesystem, as seen from the host
	StateDir       string // everything of the target on the host
	Suite          string // the Debian release ("" is bookworm)

	t       testing.TB
	script  string
	mu      sync.Mutex
	created bool // target.sh create was started
	done    bool // destroyed
}

// New creates a target for the test and registers its destruction with
// t.Cleanup, which runs whether the test passes or fails. It skips the test
// when not run as root and fails it when the target cannot be created.
func New(t testing.TB) *Target {
	t.Helper()
	return NewSuite(t, "")
}

// NewSuite is New for a target of the Debian release suite ("trixie"; ""
// is bookworm), built from the same host mirror.
func NewSuite(t testing.TB, suite string) *Target {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sandbox: needs root (network namespaces, veth, systemd-nspawn)")
	}
	script, err := scriptPath()
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	tg := &Target{Name: newName(), Suite: suite, t: t, script: script}
	t.Cleanup(func() {
		if err := tg.Destroy(); err != nil {
			t.Errorf("sandbox: %v", err)
		}
	})

	start := time.Now()
	tg.mu.Lock()
	tg.created = true
	tg.mu.Unlock()
	out, err := tg.runScript(createTimeout, "create", tg.Name)
	if err != nil {
		t.Fatalf("sandbox: create %s: %v", tg.Name, err)
	}
	if err := tg.parseInfo(out); err != nil {
		t.Fatalf("sandbox: create %s: %v", tg.Name, err)
	}
	t.Logf("sandbox: created %s (%s) in %s", tg.Name, tg.IP, time.Since(start).Round(100*time.Millisecond))
	return tg
}

// Destroy stops the target and removes everything that was made for it. It
// is idempotent; New registers it with t.Cleanup, so tests call it only to
// destroy a target before the test ends.
func (tg *Target) Destroy() error {
	tg.t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.done || !tg.created {
		return nil
	}
	start := time.Now()
	// destroy also cleans up after a create that failed half-way.
	if _, err := tg.runScript(destroyTimeout, "destroy", tg.Name); err != nil {
		return fmt.Errorf("destroy %s: %w", tg.Name, err)
	}
	tg.done = true
	tg.t.Logf("sandbox: destroyed %s in %s", tg.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// Run runs a shell command line in the target as root over SSH and returns
// its standard output. The error includes the exit status and stderr.
func (tg *Target) Run(cmd string) (string, error) {
	return tg.RunAs("root", cmd)
}

// RunAs is Run as another user, such as AdminUser.
func (tg *Target) RunAs(user, cmd string) (string, error) {
	var stdout, stderr bytes.Buffer
	c := exec.Command("ssh", tg.SSHArgs(user, cmd)...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s@%s %q: %w\nstderr:\n%s", user, tg.Name, cmd, err, stderr.String())
	}
	return stdout.String(), nil
}

// MustRun is Run that fails the test on error.
func (tg *Target) MustRun(t testing.TB, cmd string) string {
	t.Helper()
	out, err := tg.Run(cmd)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	return out
}

// SSHArgs returns the arguments for ssh(1) to run cmd in the target as user
// (an interactive login when cmd is empty).
func (tg *Target) SSHArgs(user, cmd string) []string {
	args := []string{
		"-F", "/dev/null", // no user or system ssh_config
		"-i", tg.KeyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + tg.KnownHostsPath,
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=15",
		"-o", "LogLevel=ERROR",
		user + "@" + tg.IP,
	}
	if cmd != "" {
		args = append(args, "--", cmd)
	}
	return args
}

// runScript runs target.sh with args and returns its stdout; its stderr
// (progress and timings) is logged.
func (tg *Target) runScript(timeout time.Duration, args ...string) (string, error) {
	tg.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "bash", append([]string{tg.script}, args...)...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if tg.Suite != "" {
		c.Env = append(os.Environ(), "SANDBOX_SUITE="+tg.Suite)
	}
	// On timeout, SIGTERM lets the script clean up (a failed create destroys
	// what it made); SIGKILL follows if it does not exit.
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = time.Minute
	err := c.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		tg.t.Logf("sandbox: target.sh %s:\n%s", strings.Join(args, " "), s)
	}
	if err != nil {
		return "", fmt.Errorf("target.sh %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

// parseInfo fills the target's fields from target.sh's KEY=VALUE output.
func (tg *Target) parseInfo(out string) error {
	fields := map[string]*string{
		"SANDBOX_IP":          &tg.IP,
		"SANDBOX_HOST_IP":     &tg.HostIP,
		"SANDBOX_PROXY":       &tg.ProxyURL,
		"SANDBOX_SSH_KEY":     &tg.KeyPath,
		"SANDBOX_KNOWN_HOSTS": &tg.KnownHostsPath,
		"SANDBOX_NETNS":       &tg.NetNS,
		"SANDBOX_VETH":        &tg.HostVeth,
		"SANDBOX_ROOTFS":      &tg.RootFS,
		"SANDBOX_STATE_DIR":   &tg.StateDir,
	}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if p := fields[k]; ok && p != nil {
			*p = v
		}
	}
	for k, p := range fields {
		if *p == "" {
			return fmt.Errorf("target.sh printed no %s in:\n%s", k, out)
		}
	}
	return nil
}

// scriptPath finds target.sh beside this source file, so that tests of any
// package can use the sandbox.
func scriptPath() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the sandbox package source")
	}
	p := filepath.Join(filepath.Dir(file), "target.sh")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("target.sh not found beside the package source (built with -trimpath?): %w", err)
	}
	return p, nil
}

// newName returns a fresh target name, usable as a hostname.
func newName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "sbx-" + string(b)
}
