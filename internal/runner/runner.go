// Package runner executes a plan.Plan on a machine through a Packer
// communicator: one UI line per step, the step's remote output streamed as
// it comes, its duration shown, and an error that names the failed step and
// carries the last lines of its output.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

// tailLines is how much of a failed step's output the error carries.
const tailLines = 25

// DefaultHeartbeat is how often a long step says it is still running.
const DefaultHeartbeat = 30 * time.Second

// Runner runs plans over Comm, reporting to UI.
type Runner struct {
	UI   packersdk.Ui
	Comm packersdk.Communicator
	// Name prefixes UI lines, e.g. "node-primal".
	Name string
	// Env is exported in every fact command (proxies for the build, for
	// example); step scripts get the same through the plan's Prelude.
	Env map[string]string
	// Secrets are scrubbed from everything shown: step lines, remote
	// output, and the output tail in errors.
	Secrets []string
	// Now is the clock (tests replace it); nil means time.Now.
	Now func() time.Time
	// Total, when set, is the number of steps of all the plans this runner
	// runs, so that steps are numbered across plans ("[6/15]") and the
	// user sees one count; the caller then closes with Summary. Zero
	// numbers each plan on its own.
	Total int
	// Heartbeat is how often a step that is still running says so, so a
	// long install never looks hung; zero means DefaultHeartbeat.
	Heartbeat time.Duration

	done  int       // steps run by earlier plans
	begun time.Time // when the first plan started

	// sudo is "sudo -n " unless the login user is root; read once.
	sudo *string
}

// stageCommand makes the private staging directory for uploads, in memory
// (/dev/shm is a tmpfs on Debian), so that uploaded secrets and scripts
// holding credentials never reach the image's disk, not even as free
// blocks after they are removed. /tmp (a disk on Debian 12) is the fallback
// on a machine without a writable tmpfs there.
const stageCommand = `umask 077
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && d=$(mktemp -d /dev/shm/packer-node.XXXXXXXX 2>/dev/null); then
  echo "$d"
else
  mktemp -d /tmp/packer-node.XXXXXXXX
fi`

// StepError is returned when a step fails; it names the step.
type StepError struct {
	Step     string
	Exit     int
	Duration time.Duration
	Tail     string
	Err      error
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %q failed after %s", e.Step, e.Duration.Round(100*time.Millisecond))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	} else {
		msg += fmt.Sprintf(" (exit status %d)", e.Exit)
	}
	if e.Tail != "" {
		msg += "\nlast output lines:\n" + e.Tail
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// CommandError is a command run by Output that exited non-zero on the
// machine; its fields are already scrubbed of secrets.
type CommandError struct {
	Command string
	Exit    int
	Stderr  string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%q exited %d: %s", e.Command, e.Exit, e.Stderr)
}

// ErrDisconnected is why a step or command failed when the connection to
// the machine was lost while it ran: the communicator got no exit status
// (Packer's SSH communicator reports packersdk.CmdDisconnect), so whether
// it finished is unknown.
var ErrDisconnected = errors.New("the connection to the machine was lost while it ran " +
	"(no exit status came back, so it may have stopped half-way); every step is safe to run again: " +
	"rerun the build, or set the provisioner's max_retries")

// Run executes every step of p in order and stops at the first failure.
func (r *Runner) Run(ctx context.Context, p plan.Plan) error {
	if len(r.Secrets) > 0 {
		if _, wrapped := r.UI.(secretUI); !wrapped {
			r.UI = secretUI{Ui: r.UI, secrets: r.Secrets}
		}
	}
	if p.Prelude == "" {
		return fmt.Errorf("%s: the plan has no prelude", r.Name)
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	sudo, err := r.sudoPrefix(ctx)
	if err != nil {
		return err
	}
	// A private staging directory for uploads, owned by the login user, so
	// that uploaded secrets are never readable by others, even briefly.
	stage, err := r.Output(ctx, stageCommand)
	if err != nil {
		return fmt.Errorf("%s: cannot create a staging directory on the target: %w", r.Name, err)
	}
	stage = strings.TrimSpace(stage)
	defer func() {
		// Best effort, with a fresh context: the build may have been cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = r.Output(cctx, "rm -rf "+shell.Quote(stage))
	}()

	if r.begun.IsZero() {
		r.begun = now()
	}
	total := now()
	of := r.Total
	if of == 0 {
		of = len(p.Steps)
	}
	for i, s := range p.Steps {
		label := fmt.Sprintf("%s: [%d/%d] %s", r.Name, r.done+i+1, of, s.Name)
		r.UI.Say(label)
		start := now()
		tail, exit, err := r.runStep(ctx, stage, sudo, p.Prelude, i, s, label)
		d := now().Sub(start)
		if err != nil || exit != 0 {
			// The name may hold a URL with credentials (a mirror's).
			return &StepError{Step: redact(s.Name, r.Secrets), Exit: exit, Duration: d, Tail: tail, Err: err}
		}
		r.UI.Say(fmt.Sprintf("%s: done in %s", label, d.Round(100*time.Millisecond)))
	}
	r.done += len(p.Steps)
	if r.Total == 0 {
		r.UI.Say(fmt.Sprintf("%s: %d steps done in %s", r.Name, len(p.Steps), now().Sub(total).Round(100*time.Millisecond)))
	}
	return nil
}

// Summary closes a run of several plans: how many steps ran in how long,
// then what the machine now holds, one "what: value" line each, so the
// user need not log in to check.
func (r *Runner) Summary(title string, lines [][2]string) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d steps done in %s; %s:", r.Name, r.done, now().Sub(r.begun).Round(100*time.Millisecond), title)
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "\n%s:   %-*s %s", r.Name, width+1, l[0]+":", l[1])
	}
	r.UI.Say(b.String())
}

// runStep uploads the step's files and script into the staging directory
// and runs the script as root. It returns the tail of the output and the
// exit status.
func (r *Runner) runStep(ctx context.Context, stage, sudo, prelude string, i int, s plan.Step, label string) (string, int, error) {
	path := fmt.Sprintf("%s/step%02d.sh", stage, i+1)
	var script strings.Builder
	// The script and the staged files leave the staging directory as soon
	// as the script has read them: they may hold secrets (the proxies in the
	// prelude, an env file), and a build whose connection is lost never
	// gets to remove the directory. sh keeps reading the unlinked script.
	script.WriteString("rm -f " + shell.Quote(path) + "\n")
	script.WriteString(prelude)
	for j, f := range s.Files {
		staged := fmt.Sprintf("%s/step%02d-file%02d", stage, i+1, j+1)
		if err := r.Comm.Upload(staged, bytes.NewReader(f.Content), nil); err != nil {
			return "", 0, fmt.Errorf("upload for %s: %w", f.Path, err)
		}
		script.WriteString(InstallCommand(staged, f))
	}
	script.WriteString(s.Script)
	if err := r.Comm.Upload(path, strings.NewReader(script.String()), nil); err != nil {
		return "", 0, fmt.Errorf("upload script: %w", err)
	}
	tail := newTail(tailLines)
	cmd := &packersdk.RemoteCmd{
		Command: sudo + "/bin/sh -eu " + shell.Quote(path),
		Stdout:  tail,
		Stderr:  tail,
	}
	if s.Stdin != nil {
		in := s.Stdin.Open()
		defer in.Close()
		cmd.Stdin = in
	}
	stop := r.heartbeat(label)
	err := cmd.RunWithUi(ctx, r.Comm, r.UI)
	stop()
	out := redact(tail.String(), r.Secrets)
	if err != nil {
		return out, 0, err
	}
	if code := cmd.ExitStatus(); code == packersdk.CmdDisconnect {
		return out, code, ErrDisconnected
	}
	return out, cmd.ExitStatus(), nil
}

// heartbeat says every Heartbeat that the step labelled label is still
// running, until the returned function is called.
func (r *Runner) heartbeat(label string) (stop func()) {
	every := r.Heartbeat
	if every <= 0 {
		every = DefaultHeartbeat
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
				r.UI.Say(fmt.Sprintf("%s: still running (%s)", label, time.Duration(n)*every))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// InstallCommand is the shell line that moves a staged upload into place:
// installed next to the destination with its final mode and owner, then
// renamed over it, so a reader never sees a half-written or world-readable
// file and a rerun simply replaces it. The staged copy is removed at once.
func InstallCommand(staged string, f plan.File) string {
	owner := f.Owner
	if owner == "" {
		owner = "root"
	}
	group := shell.Quote(f.Group)
	if f.Group == "" {
		group = `"$(id -gn ` + shell.Quote(owner) + `)"`
	}
	tmp := f.Path + ".packer-node-tmp"
	return fmt.Sprintf("mkdir -p %s\ninstall -m %04o -o %s -g %s %s %s\nrm -f %s\nmv -f %s %s\n",
		shell.Quote(parentDir(f.Path)), f.Mode.Perm(), shell.Quote(owner), group,
		shell.Quote(staged), shell.Quote(tmp), shell.Quote(staged), shell.Quote(tmp), shell.Quote(f.Path))
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// sudoPrefix is how commands run as root: directly when the communicator
// logs in as root, otherwise through non-interactive sudo (cloud images'
// default users have passwordless sudo), which fails fast instead of
// hanging on a password prompt.
func (r *Runner) sudoPrefix(ctx context.Context) (string, error) {
	if r.sudo != nil {
		return *r.sudo, nil
	}
	uid, err := r.Output(ctx, "id -u")
	if err != nil {
		return "", fmt.Errorf("%s: cannot run commands on the target: %w", r.Name, err)
	}
	sudo := "sudo -n "
	if strings.TrimSpace(uid) == "0" {
		sudo = ""
	}
	r.sudo = &sudo
	return sudo, nil
}

// Output runs a short command as the login user, with Env, and returns its
// stdout. It is how facts are read before a plan is made.
func (r *Runner) Output(ctx context.Context, command string) (string, error) {
	return r.output(ctx, "", command)
}

// RootOutput is Output as root, for facts only root may read (files in
// the instance user's home, for example).
func (r *Runner) RootOutput(ctx context.Context, command string) (string, error) {
	sudo, err := r.sudoPrefix(ctx)
	if err != nil {
		return "", err
	}
	return r.output(ctx, sudo, command)
}

// output runs command with Env as root (sudo) or the login user. The
// command and the environment travel on the shell's standard input, never
// on its command line: communicators log command lines, and the
// environment may hold a proxy's credentials.
func (r *Runner) output(ctx context.Context, sudo, command string) (string, error) {
	script := command + "\n"
	if len(r.Env) > 0 {
		script = "export " + strings.Join(Exports(r.Env), " ") + "\n" + script
	}
	var stdout, stderr bytes.Buffer
	cmd := &packersdk.RemoteCmd{Command: sudo + "/bin/sh -s", Stdin: strings.NewReader(script), Stdout: &stdout, Stderr: &stderr}
	if err := r.Comm.Start(ctx, cmd); err != nil {
		return "", err
	}
	// A cancelled build stops waiting at once (Ctrl-C, Packer's timeout),
	// even when the command hangs on the machine.
	done := make(chan int, 1)
	go func() { done <- cmd.Wait() }()
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		return "", errors.New(redact(fmt.Sprintf("%q: %v", command, ctx.Err()), r.Secrets))
	}
	if code == packersdk.CmdDisconnect {
		return "", fmt.Errorf("%s: %w", redact(fmt.Sprintf("%q", command), r.Secrets), ErrDisconnected)
	}
	if code != 0 {
		return "", &CommandError{Command: redact(command, r.Secrets), Exit: code, Stderr: redact(strings.TrimSpace(stderr.String()), r.Secrets)}
	}
	return stdout.String(), nil
}
