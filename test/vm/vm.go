// Package vm gives end-to-end tests real virtual machines: the cached Debian
// base image that make-base-image.sh (beside this file) builds, and QEMU
// boots of it or of images built on it, reached over SSH on a loopback port.
//
//	base := vm.BaseImage(t)         // built once per cache, then reused
//	m := vm.Boot(t, vm.Config{Image: base.Image, KeyPath: base.KeyPath})
//	out := m.MustRun(t, "systemctl is-active nginx")
//
// Every VM is a qemu process started by the test; its PID is logged and it
// is stopped by that PID in t.Cleanup, whether the test passes or fails.
// Its network is QEMU's user networking: the guest reaches what the host
// reaches, and the host reaches the guest only through forwards bound to
// 127.0.0.1.
//
// Where KVM is unusable (no /dev/kvm, or the kvm_pvm module) QEMU emulates
// the CPU (TCG): expect ~40 s to boot and CPU-bound work ~4x slower than on
// the host. VM_ACCEL=tcg|kvm overrides the choice.
//
// arm64 VMs (BaseImageFor(t, "arm64"), Config.Arch) are always emulated:
// qemu-system-aarch64, machine virt, UEFI firmware (Debian's
// qemu-efi-aarch64), TCG.
//
//	base := vm.BaseImageFor(t, vm.ARM64)
//	m := vm.Boot(t, vm.Config{Image: base.Image, KeyPath: base.KeyPath, Arch: base.Arch, Firmware: base.Firmware})
package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// User is the base image's login user: passwordless sudo, key login only,
// like the default user of a cloud image.
const User = "admin"

// baseImageTimeout bounds make-base-image.sh: host packages and a cold build
// on a busy machine. An arm64 build, emulated by qemu-user, took 21 min
// under load: it gets twice the time.
const baseImageTimeout = 30 * time.Minute

// Architectures of base images and VMs, as Debian names them.
const (
	AMD64 = "amd64"
	ARM64 = "arm64"
)

// Base is the cached base image.
type Base struct {
	Image    string // the qcow2; images built on it keep this absolute path as backing file
	KeyPath  string // private SSH key of User
	User     string
	Arch     string // AMD64 or ARM64
	Firmware string // arm64: the UEFI firmware to boot it with (QEMU's -bios)
}

// BaseImage returns the amd64 base image, building it first when the cache
// has none for the current recipe (minutes; later calls take a second). It
// skips the test unless run as root (loop devices, mount, chroot). The cache
// is ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/vm, or $VM_CACHE.
func BaseImage(t testing.TB) Base {
	t.Helper()
	return BaseImageFor(t, AMD64)
}

// BaseImageFor is BaseImage for an architecture: AMD64, or ARM64 (built
// through qemu-user: 21 minutes cold on a busy 2-core machine, ~10 min of
// CPU; the amd64 one takes under 2).
func BaseImageFor(t testing.TB, arch string) Base {
	t.Helper()
	if arch != AMD64 && arch != ARM64 {
		t.Fatalf("vm: architecture %q: want %s or %s", arch, AMD64, ARM64)
	}
	if os.Geteuid() != 0 {
		t.Skip("vm: building the base image needs root (loop devices, mount, chroot)")
	}
	script, err := besideSource("make-base-image.sh")
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	timeout := baseImageTimeout
	if arch == ARM64 {
		timeout *= 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "bash", script)
	c.Env = append(os.Environ(), "ARCH="+arch)
	c.Stdout, c.Stderr = &stdout, &stderr
	// On timeout, SIGTERM lets the script unmount and detach what it made.
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = time.Minute
	err = c.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("vm: make-base-image.sh:\n%s", s)
	}
	if err != nil {
		t.Fatalf("vm: make-base-image.sh: %v", err)
	}
	info := parseKV(stdout.String())
	b := Base{Image: info["VM_IMAGE"], KeyPath: info["VM_SSH_KEY"], User: info["VM_SSH_USER"],
		Arch: info["VM_ARCH"], Firmware: info["VM_FIRMWARE"]}
	if b.Image == "" || b.KeyPath == "" || b.User == "" || b.Arch != arch || (arch == ARM64 && b.Firmware == "") {
		t.Fatalf("vm: make-base-image.sh ARCH=%s printed no VM_IMAGE, VM_SSH_KEY, VM_SSH_USER, VM_ARCH=%s or (arm64) VM_FIRMWARE in:\n%s",
			arch, arch, stdout.String())
	}
	return b
}

// Accelerator is the QEMU accelerator to use here: $VM_ACCEL if set, else
// "kvm" when /dev/kvm opens and is not kvm_pvm (whose guests fail: MSR
// errors, emulation failures), else "tcg".
func Accelerator() string {
	if a := os.Getenv("VM_ACCEL"); a != "" {
		return a
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return "tcg"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	return "kvm"
}

// Config says what to boot and how.
type Config struct {
	Image    string // qcow2 to boot (required)
	KeyPath  string // private SSH key of User (required)
	User     string // SSH login user; default User
	Writable bool   // write to Image; by default writes go to a throwaway overlay (-snapshot)
	Arch     string // AMD64 (default) or ARM64
	Firmware string // ARM64: UEFI firmware (Base.Firmware), required

	MemoryMiB   int           // default 2048
	CPUs        int           // default 2
	Accel       string        // default Accelerator(); always tcg for ARM64
	Forward     []int         // guest TCP ports to forward from 127.0.0.1, besides 22
	BootTimeout time.Duration // until SSH answers and systemd has finished booting; default 15m
}

// VM is one running qemu process.
type VM struct {
	PID        int
	SSHPort    int         // on 127.0.0.1
	Ports      map[int]int // guest TCP port -> port on 127.0.0.1 (Config.Forward)
	Dir        string      // serial log, pid file, known_hosts
	SerialLog  string      // the guest's serial console
	SSHAfter   time.Duration
	ReadyAfter time.Duration // systemd's boot finished (is-system-running --wait)
	State      string        // what is-system-running said: "running", or "degraded" ...

	cfg     Config
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	exited  chan struct{}
	waitErr error
	master  *exec.Cmd // ssh connection shared by Run, once booted
	mu      sync.Mutex
	stopped bool
}

// QEMU is how QEMU runs a guest of an architecture: its binary, machine
// type, CPU model and the extra arguments. make-base-image.sh installs the
// binaries (Debian packages qemu-system-x86, qemu-system-arm).
type QEMU struct {
	Binary, Machine, CPU string
	Args                 []string
}

// QEMUFor returns how to run a guest of arch (AMD64 or ARM64) with accel;
// firmware is arm64's UEFI firmware. arm64 guests are emulated (accel is
// ignored): machine virt, CPU max with QEMU's own pointer authentication
// algorithm (pauth-impdef: the architected one, QARMA, costs much of an
// emulated CPU's time), booted by the firmware from the image's EFI
// partition.
func QEMUFor(arch, accel, firmware string) QEMU {
	if arch == ARM64 {
		return QEMU{Binary: "qemu-system-aarch64", Machine: "virt,accel=tcg", CPU: "max,pauth-impdef=on",
			Args: []string{"-bios", firmware}}
	}
	return QEMU{Binary: "qemu-system-x86_64", Machine: "pc,accel=" + accel, CPU: "max"}
}

// errPortTaken: a forwarded port was taken between choosing and binding it.
var errPortTaken = errors.New("a forwarded port is already in use")

// Boot starts a VM and waits until SSH answers and systemd has finished
// booting. The VM is stopped in t.Cleanup. It fails the test, with the end
// of the serial console, when the VM does not come up in time.
func Boot(t testing.TB, cfg Config) *VM {
	t.Helper()
	if cfg.Image == "" || cfg.KeyPath == "" {
		t.Fatal("vm: Config.Image and Config.KeyPath are required")
	}
	if cfg.User == "" {
		cfg.User = User
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 2048
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.Arch == "" {
		cfg.Arch = AMD64
	}
	if cfg.Arch == ARM64 && cfg.Firmware == "" {
		t.Fatal("vm: Config.Firmware is required for an arm64 VM (Base.Firmware)")
	}
	if cfg.Accel == "" {
		cfg.Accel = Accelerator()
	}
	if cfg.Arch == ARM64 {
		cfg.Accel = "tcg"
	}
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = 15 * time.Minute
	}
	bin := QEMUFor(cfg.Arch, cfg.Accel, cfg.Firmware).Binary
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("vm: %s not found (Debian package qemu-system-x86 or qemu-system-arm; make-base-image.sh installs it): %v", bin, err)
	}
	var v *VM
	var err error
	for attempt := 1; ; attempt++ {
		v, err = start(t, cfg)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatalf("vm: %v", err)
		}
		t.Logf("vm: %v; trying other ports", err)
	}
	if err := v.waitReady(); err != nil {
		t.Fatalf("vm: %s did not come up: %v\nserial console (last lines of %s):\n%s",
			filepath.Base(cfg.Image), err, v.SerialLog, v.SerialTail(60))
	}
	if err := v.startMaster(); err != nil {
		t.Logf("vm: no shared SSH connection, each command logs in anew: %v", err)
	}
	t.Logf("vm: %s up: ssh after %s, boot finished after %s, system %s",
		filepath.Base(cfg.Image), v.SSHAfter.Round(100*time.Millisecond),
		v.ReadyAfter.Round(100*time.Millisecond), v.State)
	if v.State != "running" {
		failed, _ := v.Run("systemctl --failed --no-legend --plain")
		t.Logf("vm: failed units:\n%s", failed)
	}
	return v
}

// start starts qemu and registers its stop with t.Cleanup.
func start(t testing.TB, cfg Config) (*VM, error) {
	dir, err := os.MkdirTemp("", "vm-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	v := &VM{cfg: cfg, Dir: dir, SerialLog: filepath.Join(dir, "serial.log"),
		Ports: map[int]int{}, exited: make(chan struct{})}
	if v.SSHPort, err = freePort(); err != nil {
		return nil, err
	}
	hostfwd := fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", v.SSHPort)
	for _, gp := range cfg.Forward {
		hp, err := freePort()
		if err != nil {
			return nil, err
		}
		v.Ports[gp] = hp
		hostfwd += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", hp, gp)
	}
	drive := "file=" + cfg.Image + ",if=virtio,format=qcow2,discard=unmap"
	if !cfg.Writable {
		drive += ",snapshot=on"
	}
	q := QEMUFor(cfg.Arch, cfg.Accel, cfg.Firmware)
	args := append([]string{
		"-name", "vm-test-" + filepath.Base(dir),
		"-machine", q.Machine,
		"-cpu", q.CPU,
		"-smp", strconv.Itoa(cfg.CPUs),
		"-m", strconv.Itoa(cfg.MemoryMiB),
		"-drive", drive,
		"-netdev", hostfwd,
		"-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
		"-display", "none",
		"-serial", "file:" + v.SerialLog,
		"-monitor", "none",
		"-parallel", "none",
		"-no-user-config",
	}, q.Args...)
	v.cmd = exec.Command(q.Binary, args...)
	v.cmd.Stdout, v.cmd.Stderr = &v.stderr, &v.stderr
	// Own process group (a ^C to the test reaches the test only, which then
	// stops the VM); killed with the test process if that dies abruptly
	// (go test's timeout panic runs no t.Cleanup).
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", q.Binary, err)
	}
	v.PID = v.cmd.Process.Pid
	t.Cleanup(func() {
		if err := v.Stop(); err != nil {
			t.Errorf("vm: %v", err)
		} else {
			t.Logf("vm: stopped qemu (pid %d)", v.PID)
		}
	})
	go func() { v.waitErr = v.cmd.Wait(); close(v.exited) }()
	_ = os.WriteFile(filepath.Join(dir, "qemu.pid"), []byte(strconv.Itoa(v.PID)+"\n"), 0o644)
	t.Logf("vm: qemu pid %d: %s %s", v.PID, q.Binary, strings.Join(args, " "))

	// Bad arguments and taken ports make qemu exit at once.
	select {
	case <-v.exited:
		msg := strings.TrimSpace(v.stderr.String())
		if strings.Contains(msg, "host forwarding rule") {
			return nil, fmt.Errorf("%w: %s", errPortTaken, msg)
		}
		return nil, fmt.Errorf("qemu exited at once (%v): %s", v.waitErr, msg)
	case <-time.After(time.Second):
	}
	return v, nil
}

// waitReady waits for SSH, then for systemd to finish booting.
func (v *VM) waitReady() error {
	start := time.Now()
	deadline := start.Add(v.cfg.BootTimeout)
	var lastErr error
	for {
		select {
		case <-v.exited:
			return fmt.Errorf("qemu exited (%v): %s", v.waitErr, strings.TrimSpace(v.stderr.String()))
		default:
		}
		if _, lastErr = v.RunContext(30*time.Second, "true"); lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SSH after %s: %v", v.cfg.BootTimeout, lastErr)
		}
		select {
		case <-v.exited:
		case <-time.After(2 * time.Second):
		}
	}
	v.SSHAfter = time.Since(start)
	// "running", or "degraded" (exit status 1) when a unit failed.
	out, err := v.RunContext(time.Until(deadline), "systemctl is-system-running --wait")
	v.State = strings.TrimSpace(out)
	if v.State == "" {
		return fmt.Errorf("systemctl is-system-running: %v", err)
	}
	v.ReadyAfter = time.Since(start)
	return nil
}

// startMaster opens one SSH connection that later commands share (ssh's
// ControlMaster): a login costs seconds of emulated CPU, a shared session
// almost nothing. Stop ends it by its PID. Without it, commands log in anew.
func (v *VM) startMaster() error {
	// ssh takes the first value of an option: these win over SSHArgs'.
	args := append([]string{"-N", "-o", "ControlMaster=yes", "-o", "ControlPersist=no"}, v.SSHArgs("")...)
	c := exec.Command("ssh", args...)
	logf, err := os.Create(filepath.Join(v.Dir, "ssh-master.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return err
	}
	v.mu.Lock()
	v.master = c
	v.mu.Unlock()
	exited := make(chan struct{})
	go func() { c.Wait(); close(exited) }()
	for i := 0; i < 150; i++ {
		if _, err := os.Stat(v.controlPath()); err == nil {
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("ssh master exited: %s", strings.TrimSpace(string(b)))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("ssh master made no control socket in 30s")
}

func (v *VM) controlPath() string { return filepath.Join(v.Dir, "ssh.sock") }

// Stop stops the VM by its PID: SIGTERM (qemu exits at once), SIGKILL after
// 10 s. It is idempotent; Boot registers it with t.Cleanup.
func (v *VM) Stop() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return nil
	}
	v.stopped = true
	if v.master != nil && v.master.Process != nil {
		// Ends by itself when the VM goes; this is for the case it does not.
		_ = v.master.Process.Kill()
	}
	select {
	case <-v.exited:
		return nil
	default:
	}
	// os.Process signals this very process (a pidfd on Linux), never a
	// later one that got the same PID.
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop qemu pid %d: %w", v.PID, err)
	}
	select {
	case <-v.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := v.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill qemu pid %d: %w", v.PID, err)
	}
	select {
	case <-v.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("qemu pid %d did not exit after SIGKILL", v.PID)
	}
}

// Run runs a shell command line in the guest as the login user (use sudo -n
// for root) and returns its stdout. The error has the exit status and stderr.
// It gives up after 10 minutes.
func (v *VM) Run(cmd string) (string, error) {
	return v.RunContext(10*time.Minute, cmd)
}

// RunContext is Run with another time limit.
func (v *VM) RunContext(timeout time.Duration, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "ssh", v.SSHArgs(cmd)...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s@127.0.0.1:%d %q: %w\nstderr:\n%s", v.cfg.User, v.SSHPort, cmd, err, stderr.String())
	}
	return stdout.String(), nil
}

// MustRun is Run that fails the test on error.
func (v *VM) MustRun(t testing.TB, cmd string) string {
	t.Helper()
	out, err := v.Run(cmd)
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	return out
}

// SSHArgs returns the arguments for ssh(1) to run cmd in the guest (an
// interactive login when cmd is empty). The guest's host key is learnt at
// the first connection into a known_hosts of this VM alone. Once the VM has
// booted, commands go through its shared connection; when that is gone, ssh
// connects anew.
func (v *VM) SSHArgs(cmd string) []string {
	args := []string{
		"-F", "/dev/null", // no user or system ssh_config
		"-i", v.cfg.KeyPath,
		"-p", strconv.Itoa(v.SSHPort),
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + filepath.Join(v.Dir, "known_hosts"),
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=15",
		"-o", "LogLevel=ERROR",
		"-o", "ControlMaster=no",
		"-o", "ControlPath=" + v.controlPath(),
		v.cfg.User + "@127.0.0.1",
	}
	if cmd != "" {
		args = append(args, "--", cmd)
	}
	return args
}

// SerialTail returns the last n lines of the guest's serial console.
func (v *VM) SerialTail(n int) string {
	return Tail(v.SerialLog, n)
}

// Tail returns the last n lines of a file, or why it cannot.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ImageInfo is what `qemu-img info` says of an image.
type ImageInfo struct {
	Format          string `json:"format"`
	VirtualSize     int64  `json:"virtual-size"`
	ActualSize      int64  `json:"actual-size"`
	BackingFilename string `json:"backing-filename"`
}

// Info runs `qemu-img info` on an image (not in use by a running VM).
func Info(path string) (ImageInfo, error) {
	var info ImageInfo
	out, err := exec.Command("qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		return info, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return info, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// parseKV reads KEY=VALUE lines.
func parseKV(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, val, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = val
		}
	}
	return m
}

// besideSource finds a file beside this source file, so that tests of any
// package can use it.
func besideSource(name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the vm package source")
	}
	p := filepath.Join(filepath.Dir(file), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found beside the package source (built with -trimpath?): %w", name, err)
	}
	return p, nil
}
