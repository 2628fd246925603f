package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/test/logbuf"
)

// localComm is a communicator that runs commands on this machine with
// /bin/sh, so the runner's real scripts (staging, install, sudo choice)
// execute for real in unit tests. It records every command it ran.
type localComm struct {
	mu   sync.Mutex
	cmds []string // command lines, as a communicator would log them
	// scripts are what commands run as "/bin/sh -s" read on stdin.
	scripts []string
}

func (c *localComm) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	stdin := rc.Stdin
	c.mu.Lock()
	c.cmds = append(c.cmds, rc.Command)
	if strings.HasSuffix(rc.Command, "/bin/sh -s") && stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			c.mu.Unlock()
			return err
		}
		c.scripts = append(c.scripts, string(b))
		stdin = bytes.NewReader(b)
	}
	c.mu.Unlock()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", rc.Command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, rc.Stdout, rc.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = 255
		}
		rc.SetExited(code)
	}()
	return nil
}

func (c *localComm) Upload(dst string, r io.Reader, _ *os.FileInfo) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

func (c *localComm) UploadDir(string, string, []string) error   { return errors.New("not used") }
func (c *localComm) Download(string, io.Writer) error           { return errors.New("not used") }
func (c *localComm) DownloadDir(string, string, []string) error { return errors.New("not used") }

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the runner installs files with install -o root, which needs root; CI runs as root")
	}
}

func TestRunInstallsFilesAndRunsScripts(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "etc", "app.conf")
	secret := filepath.Join(dir, "secret.json")
	marker := filepath.Join(dir, "marker")
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{
		{Name: "write config", Files: []plan.File{
			{Path: target, Mode: 0o644, Content: []byte("key = it's $(value)\n")},
			{Path: secret, Mode: 0o600, Content: []byte(`{"token":"s3cret"}`), Sensitive: true},
		}, Script: "echo configured\n"},
		{Name: "second step", Script: "echo ran >> " + marker + "\necho \"output line\"\n"},
	}}
	var buf bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &buf, ErrorWriter: &buf}
	comm := &localComm{}
	r := &Runner{UI: ui, Comm: comm, Name: "test"}
	for run := 1; run <= 2; run++ { // a rerun must replace, not duplicate
		if err := r.Run(context.Background(), p); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "key = it's $(value)\n" {
		t.Errorf("installed content = %q", b)
	}
	for path, mode := range map[string]os.FileMode{target: 0o644, secret: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %o; want %o", path, fi.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(marker); string(b) != "ran\nran\n" {
		t.Errorf("second step ran %q; want twice", b)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.packer-node-tmp"))
	if len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
	// The staging directory is removed at the end of each run.
	removed := 0
	for _, c := range comm.scripts {
		if strings.HasPrefix(c, "rm -rf /dev/shm/packer-node.") || strings.HasPrefix(c, "rm -rf /tmp/packer-node.") {
			removed++
			d := strings.TrimSpace(strings.TrimPrefix(c, "rm -rf "))
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("staging dir %s still exists", d)
			}
		}
	}
	if removed != 2 {
		t.Errorf("%d staging directories removed; want one per run, 2", removed)
	}
	out := buf.String()
	for _, want := range []string{"test: [1/2] write config", "test: [2/2] second step: done in", "output line", "test: 2 steps done in"} {
		if !strings.Contains(out, want) {
			t.Errorf("UI output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("UI output shows the sensitive file content:\n%s", out)
	}
}

func TestRunFailureNamesStepAndStops(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	after := filepath.Join(dir, "after")
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{
		{Name: "fine", Script: "true\n"},
		{Name: "broken step", Script: "echo first clue\necho second clue >&2\nexit 7\n"},
		{Name: "never", Script: "touch " + after + "\n"},
	}}
	r := &Runner{UI: packersdk.TestUi(t), Comm: &localComm{}, Name: "test"}
	err := r.Run(context.Background(), p)
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("want a *StepError, got %v", err)
	}
	if se.Step != "broken step" || se.Exit != 7 {
		t.Errorf("StepError = step %q exit %d; want \"broken step\" exit 7", se.Step, se.Exit)
	}
	for _, w := range []string{`step "broken step" failed`, "exit status 7", "first clue", "second clue"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if _, err := os.Stat(after); !os.IsNotExist(err) {
		t.Error("a step after the failed one ran")
	}
}

func TestRunScriptsStopAtFirstFailingCommand(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	never := filepath.Join(dir, "never")
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "set -e", Script: "false\ntouch " + never + "\n"}}}
	r := &Runner{UI: packersdk.TestUi(t), Comm: &localComm{}, Name: "test"}
	if err := r.Run(context.Background(), p); err == nil {
		t.Fatal("want an error from a script whose command failed")
	}
	if _, err := os.Stat(never); !os.IsNotExist(err) {
		t.Error("the script went on after a failing command")
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	tl := newTail(3)
	io.WriteString(tl, "1\n2\n3")
	io.WriteString(tl, "\n4\n5 partial")
	if got := tl.String(); got != "3\n4\n5 partial" {
		t.Errorf("tail = %q", got)
	}
}

func TestInstallCommandQuotes(t *testing.T) {
	got := InstallCommand("/tmp/s/f1", plan.File{Path: "/etc/it's here.conf", Mode: 0o640, Owner: "admin"})
	for _, w := range []string{`install -m 0640 -o admin -g "$(id -gn admin)" /tmp/s/f1 '/etc/it'\''s here.conf.packer-node-tmp'`, `mv -f '/etc/it'\''s here.conf.packer-node-tmp' '/etc/it'\''s here.conf'`} {
		if !strings.Contains(got, w) {
			t.Errorf("install command lacks %s:\n%s", w, got)
		}
	}
}

func TestRunScrubsSecretsFromOutputAndErrors(t *testing.T) {
	needRoot(t)
	var buf bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &buf, ErrorWriter: &buf}
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "leaky", Script: "echo token is npm_S3CRET\necho npm_S3CRET >&2\nexit 3\n"}}}
	r := &Runner{UI: ui, Comm: &localComm{}, Name: "test", Secrets: []string{"npm_S3CRET"}}
	err := r.Run(context.Background(), p)
	if err == nil {
		t.Fatal("want the step to fail")
	}
	if strings.Contains(buf.String(), "npm_S3CRET") || strings.Contains(err.Error(), "npm_S3CRET") {
		t.Errorf("the secret was shown:\nUI: %s\nerror: %v", buf.String(), err)
	}
	if !strings.Contains(buf.String(), "token is <sensitive>") {
		t.Errorf("the redacted line is missing from the UI:\n%s", buf.String())
	}
}

func TestRunStreamsStdin(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "got")
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{
		Name:   "read stdin",
		Script: "cat > " + out + "\n",
		Stdin: &plan.Stream{Describe: "greeting", Open: func() io.ReadCloser {
			return io.NopCloser(strings.NewReader("streamed\n"))
		}},
	}}}
	if err := (&Runner{UI: packersdk.TestUi(t), Comm: &localComm{}, Name: "test"}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "streamed\n" {
		t.Errorf("script read %q from stdin", b)
	}
}

// testPrelude is the prelude of the runner's tests: this machine's root
// as the instance user.
var testPrelude = Prelude{User: "root", Home: "/root", Node: "/usr/local/bin/node"}.Render()

func TestRunRefusesAPlanWithoutPrelude(t *testing.T) {
	r := &Runner{UI: &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: io.Discard, ErrorWriter: io.Discard}, Comm: &localComm{}, Name: "test"}
	err := r.Run(context.Background(), plan.Plan{Steps: []plan.Step{{Name: "x", Script: "true\n"}}})
	if err == nil || !strings.Contains(err.Error(), "no prelude") {
		t.Fatalf("want a refusal of a plan without prelude, got %v", err)
	}
}

// TestPreludeFunctions runs the prelude's shell library for real: as_user
// passes the build's environment to the command, and apt_get carries the
// lock timeout.
func TestPreludeFunctions(t *testing.T) {
	needRoot(t)
	p := Prelude{Env: map[string]string{"https_proxy": "http://proxy.test:3128", "npm_config_registry": "https://r.test/"},
		User: "root", Home: "/tmp/home-of-test", Node: "/usr/local/bin/node", DpkgLockTimeout: 90 * time.Second}.Render()
	fake := t.TempDir()
	if err := os.WriteFile(filepath.Join(fake, "apt-get"), []byte("#!/bin/sh\necho \"apt-get $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// runuser records its arguments, then does what runuser does without
	// -l: HOME for the target user, the rest of the environment kept.
	argv := filepath.Join(fake, "argv")
	runuser := "#!/bin/sh\necho \"$*\" >> " + argv + "\nshift 3\nHOME=/tmp/home-of-test exec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(fake, "runuser"), []byte(runuser), 0o755); err != nil {
		t.Fatal(err)
	}
	script := p + "PATH=" + fake + ":$PATH\n" + `as_user sh -c 'echo "HOME=$HOME https_proxy=$https_proxy registry=$npm_config_registry fund=$npm_config_fund"'
apt_install nginx
`
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"HOME=/tmp/home-of-test https_proxy=http://proxy.test:3128 registry=https://r.test/ fund=false",
		"apt-get -o DPkg::Lock::Timeout=90 -q -y --no-install-recommends",
		"install nginx",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The environment travels as environment: no argument of runuser holds it.
	args, err := os.ReadFile(argv)
	if err != nil || !strings.HasPrefix(string(args), "-u root -- sh -c") {
		t.Fatalf("runuser was called with %q, %v", args, err)
	}
	if strings.Contains(string(args), "proxy.test") || strings.Contains(string(args), "r.test") {
		t.Errorf("the build's environment is on runuser's command line: %q", args)
	}
}

// TestOutputKeepsSecretsOffCommandLines: a proxy's credentials in the
// environment never appear on a command line (communicators log those),
// and a failing fact command's error does not show them.
func TestOutputKeepsSecretsOffCommandLines(t *testing.T) {
	comm := &localComm{}
	r := &Runner{UI: &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: io.Discard, ErrorWriter: io.Discard},
		Comm: comm, Name: "test", Env: map[string]string{"https_proxy": "http://u:S3CRETpw@proxy.test:3128"}, Secrets: []string{"S3CRETpw"}}
	out, err := r.Output(context.Background(), `echo "$https_proxy"`)
	if err != nil || strings.TrimSpace(out) != "http://u:S3CRETpw@proxy.test:3128" {
		t.Fatalf("the command did not get the environment: %q, %v", out, err)
	}
	_, err = r.Output(context.Background(), "curl-that-does-not-exist http://u:S3CRETpw@mirror.test/index.json")
	if err == nil {
		t.Fatal("a failing command did not fail")
	}
	if strings.Contains(err.Error(), "S3CRETpw") {
		t.Errorf("the error shows the secret: %v", err)
	}
	for _, c := range comm.cmds {
		if strings.Contains(c, "S3CRETpw") {
			t.Errorf("a command line holds the secret: %q", c)
		}
	}
}

// TestStagingIsInMemory: uploads are staged on a tmpfs where the machine
// has one (/dev/shm), so secrets never reach the disk.
func TestStagingIsInMemory(t *testing.T) {
	out, err := exec.Command("stat", "-f", "-c", "%T", "/dev/shm").Output()
	if err != nil || strings.TrimSpace(string(out)) != "tmpfs" {
		t.Skip("this machine has no tmpfs at /dev/shm to stage on")
	}
	r := &Runner{UI: &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: io.Discard, ErrorWriter: io.Discard}, Comm: &localComm{}, Name: "test"}
	d, err := r.Output(context.Background(), stageCommand)
	if err != nil {
		t.Fatal(err)
	}
	d = strings.TrimSpace(d)
	defer os.RemoveAll(d)
	fs, _ := exec.Command("stat", "-f", "-c", "%T", d).Output()
	fi, err := os.Stat(d)
	if err != nil || strings.TrimSpace(string(fs)) != "tmpfs" || fi.Mode().Perm() != 0o700 {
		t.Errorf("staging dir %s: %s, %v, %v; want a 0700 directory on tmpfs", d, fs, fi.Mode(), err)
	}
}

// hangingComm starts commands that never finish, as a command waiting on
// a black-holed mirror would.
type hangingComm struct{ localComm }

func (c *hangingComm) Start(ctx context.Context, rc *packersdk.RemoteCmd) error { return nil }

// TestOutputStopsWhenCancelled: a fact command that hangs on the machine
// does not hold the build once it is cancelled.
func TestOutputStopsWhenCancelled(t *testing.T) {
	r := &Runner{UI: &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: io.Discard, ErrorWriter: io.Discard}, Comm: &hangingComm{}, Name: "test"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Output(ctx, "curl http://black-hole.test/index.json")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
			t.Errorf("a cancelled command returned %v; want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Output still waits 10 s after the build was cancelled")
	}
}

// TestStepsNumberedAcrossPlans: with Total, the plans of one provisioner
// run count as one ("[3/3]", not "[1/1]" again), and Summary closes with
// the count, the time and what the machine holds.
func TestStepsNumberedAcrossPlans(t *testing.T) {
	needRoot(t)
	var buf bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &buf, ErrorWriter: &buf}
	r := &Runner{UI: ui, Comm: &localComm{}, Name: "test", Total: 3}
	first := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "one", Script: "true\n"}, {Name: "two", Script: "true\n"}}}
	second := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "three", Script: "true\n"}}}
	for _, p := range []plan.Plan{first, second} {
		if err := r.Run(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	r.Summary("the machine now holds", [][2]string{{"Node.js", "v22.12.0"}, {"ports", ":80 → nginx :8080"}})
	out := buf.String()
	for _, want := range []string{"test: [1/3] one: done in", "test: [2/3] two: done in", "test: [3/3] three: done in",
		"test: 3 steps done in", "; the machine now holds:", "test:   Node.js: v22.12.0", "test:   ports:   :80 → nginx :8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[1/1]") || strings.Contains(out, "2 steps done") {
		t.Errorf("a plan was numbered on its own:\n%s", out)
	}
}

// TestLongStepSaysItIsRunning: a step that outlasts the heartbeat says it
// is still running, naming itself, and stops saying so once it is done.
func TestLongStepSaysItIsRunning(t *testing.T) {
	needRoot(t)
	var buf logbuf.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &buf, ErrorWriter: &buf}
	r := &Runner{UI: ui, Comm: &localComm{}, Name: "test", Heartbeat: 50 * time.Millisecond}
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "slow install", Script: "sleep 0.4\n"}}}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "test: [1/1] slow install: still running (50ms)") {
		t.Errorf("no heartbeat for a step of 0.4 s with a 50 ms heartbeat:\n%s", out)
	}
	after := strings.SplitN(out, "slow install: done in", 2)
	if len(after) != 2 || strings.Contains(after[1], "still running") {
		t.Errorf("a heartbeat after the step ended:\n%s", out)
	}
}

// droppingComm is a communicator whose connection drops while a step runs
// (or a fact command that says "drop me"): like Packer's SSH communicator
// then, it reports no exit status but packersdk.CmdDisconnect. Other
// commands (staging, sudo) run locally.
type droppingComm struct{ localComm }

func (c *droppingComm) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	if strings.HasSuffix(rc.Command, "/bin/sh -s") && !strings.Contains(c.lastScript(rc), "drop me") {
		return c.localComm.Start(ctx, rc)
	}
	go rc.SetExited(packersdk.CmdDisconnect)
	return nil
}

// lastScript reads a "/bin/sh -s" command's script and gives it back to it.
func (c *droppingComm) lastScript(rc *packersdk.RemoteCmd) string {
	b, _ := io.ReadAll(rc.Stdin)
	rc.Stdin = bytes.NewReader(b)
	return string(b)
}

// TestRunSaysWhenTheConnectionDrops: a step cut off by a lost connection
// fails naming the step and saying what happened, not with the
// communicator's sentinel exit status; a fact command likewise.
func TestRunSaysWhenTheConnectionDrops(t *testing.T) {
	needRoot(t)
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "long step", Script: "sleep 1\n"}}}
	r := &Runner{UI: packersdk.TestUi(t), Comm: &droppingComm{}, Name: "test"}
	err := r.Run(context.Background(), p)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "long step" || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Run = %v; want a StepError for \"long step\" wrapping ErrDisconnected", err)
	}
	for _, w := range []string{`step "long step" failed`, "the connection to the machine was lost", "max_retries"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if strings.Contains(err.Error(), "2300218") {
		t.Errorf("the error shows the communicator's sentinel exit status: %v", err)
	}
	_, err = r.Output(context.Background(), "echo drop me")
	if !errors.Is(err, ErrDisconnected) || strings.Contains(err.Error(), "2300218") {
		t.Errorf("Output = %v; want ErrDisconnected", err)
	}
}

// TestStepErrorRedactsTheStepName: a step's name may carry a URL with
// credentials (a mirror's); the error names the step without them.
func TestStepErrorRedactsTheStepName(t *testing.T) {
	needRoot(t)
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{Name: "download from http://bob:pa55word@mirror.test/dist", Script: "exit 1\n"}}}
	r := &Runner{UI: packersdk.TestUi(t), Comm: &localComm{}, Name: "test", Secrets: []string{"pa55word"}}
	err := r.Run(context.Background(), p)
	if err == nil || strings.Contains(err.Error(), "pa55word") || !strings.Contains(err.Error(), `step "download from http://bob:<sensitive>@mirror.test/dist" failed`) {
		t.Errorf("Run = %v; want the step named with its credentials redacted", err)
	}
}

// TestStagedFilesGoOnceRead: while a step runs, its script and its staged
// uploads (which may hold secrets) are already gone from the staging
// directory, so a build whose connection is lost mid-step, and which never
// gets to remove the directory, leaves none of them behind.
func TestStagedFilesGoOnceRead(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := plan.Plan{Prelude: testPrelude, Steps: []plan.Step{{
		Name:   "secret step",
		Files:  []plan.File{{Path: filepath.Join(dir, "env.json"), Mode: 0o600, Content: []byte(`{"k":"s3cret"}`), Sensitive: true}},
		Script: `echo "staged now: $(ls -A "${0%/*}" | wc -l)"` + "\n",
	}}}
	var buf bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &buf, ErrorWriter: &buf}
	r := &Runner{UI: ui, Comm: &localComm{}, Name: "test"}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "staged now: 0") {
		t.Errorf("the staging directory still held files while the step ran:\n%s", buf.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "env.json")); string(b) != `{"k":"s3cret"}` {
		t.Errorf("the file was not installed: %q", b)
	}
}
