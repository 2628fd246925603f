//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/release"
	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

// The fault tier's templates: the sandbox examples plus ssh_port (Packer
// reaches the target's SSH through Toxiproxy), Packer's provisioner timeout
// and extra packages.
const (
	faultsPrimal    = "test/e2e/testdata/faults/primal.pkr.hcl"
	faultsCarnivore = "test/e2e/testdata/faults/carnivore.pkr.hcl"
)

// faultEnv is one sandbox target with Toxiproxy between Packer and its SSH
// (ssh) and between it and the Node.js mirror (mirror), and a stand-in npm
// registry on its link that answers every request 503.
type faultEnv struct {
	tgt      *sandbox.Target
	mirror   *nodemirror.Mirror
	ssh      *tproxy // 127.0.0.1:PORT -> target:22
	mirrorP  *tproxy // host's address on the target's link -> the mirror
	registry string  // the 503 registry's URL
	requests *atomic.Int64
}

// mirrorURL is node_mirror for the target: the proxy's address. The mirror
// itself listens on the host's loopback, which the target cannot reach, so
// every request goes through Toxiproxy.
func (e *faultEnv) mirrorURL() string { return "http://" + e.mirrorP.Listen }

func (e *faultEnv) primalArgs(t *testing.T, mirrorURL string, extra ...string) []string {
	args := []string{"build",
		"-var", "host=127.0.0.1",
		"-var", "ssh_port=" + e.ssh.Port(),
		"-var", "ssh_username=" + sandbox.AdminUser,
		"-var", "ssh_private_key_file=" + e.tgt.KeyPath,
		"-var", "https_proxy=" + e.tgt.ProxyURL,
		"-var", "no_proxy=" + e.tgt.HostIP,
		"-var", "node_mirror=" + mirrorURL,
		"-var", "node_version=22",
		"-var", "ca_certificates=" + hostCAs(t),
	}
	// The test mirror signs its SHASUMS256.txt with a key of its own.
	keys, _ := json.Marshal([]string{e.mirror.Key.PublicKey})
	args = append(args, "-var", "node_release_keys="+string(keys))
	return append(append(args, extra...), faultsPrimal)
}

func (e *faultEnv) carnivoreArgs(extra ...string) []string {
	args := []string{"build",
		"-var", "host=127.0.0.1",
		"-var", "ssh_port=" + e.ssh.Port(),
		"-var", "ssh_username=" + sandbox.AdminUser,
		"-var", "ssh_private_key_file=" + e.tgt.KeyPath,
		"-var", "https_proxy=" + e.tgt.ProxyURL,
		"-var", "no_proxy=" + e.tgt.HostIP,
		"-var", "npm_registry=" + e.registry,
	}
	return append(append(args, extra...), faultsCarnivore)
}

// unavailableRegistry is an npm registry stand-in on the target's link
// that answers every request 503 Service Unavailable, and counts them.
func unavailableRegistry(t *testing.T, hostIP string) (string, *atomic.Int64) {
	var n atomic.Int64
	ln, err := net.Listen("tcp", hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "registry down for maintenance", http.StatusServiceUnavailable)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", &n
}

// packerRun is a `packer build` running in the background, so that a test
// can act on the machine or the network while it runs.
type packerRun struct {
	out   syncBuffer
	done  chan struct{}
	err   error
	start time.Time
	took  time.Duration
}

// startPacker starts packer with args from the repository root; its output
// is collected (and streamed with -v). The process is killed, by its PID,
// if the test ends while it runs.
func startPacker(t *testing.T, args ...string) *packerRun {
	t.Helper()
	r := &packerRun{done: make(chan struct{}), start: time.Now()}
	cmd := exec.Command(packer(t), args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
	var w io.Writer = &r.out
	if testing.Verbose() {
		w = io.MultiWriter(&r.out, os.Stdout)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("packer: %v", err)
	}
	go func() {
		r.err = cmd.Wait()
		r.took = time.Since(r.start)
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// waitFor waits until the output holds s; false if packer ended first or
// within bound it did not come.
func (r *packerRun) waitFor(s string, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if strings.Contains(r.out.String(), s) {
			return true
		}
		select {
		case <-r.done:
			return strings.Contains(r.out.String(), s)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// wait waits for packer to end and returns its output and error.
func (r *packerRun) wait(t *testing.T) (string, error) {
	t.Helper()
	<-r.done
	if !testing.Verbose() {
		t.Logf("packer build:\n%s", r.out.String())
	}
	return r.out.String(), r.err
}

func runFaultPacker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return startPacker(t, args...).wait(t)
}

// wantAll reports each of wants the output lacks.
func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// appState is what must not change when a carnivore build fails: the live
// release, the process serving it, and the answer through port 80.
type appState struct {
	Current, MainPID string
}

func (e *faultEnv) appState(t *testing.T, home string) appState {
	t.Helper()
	return appState{
		Current: strings.TrimSpace(e.tgt.MustRun(t, "readlink "+home+"/app/server")),
		MainPID: strings.TrimSpace(e.tgt.MustRun(t, "systemctl show -p MainPID --value example-production")),
	}
}

// checkStillLive checks that the release live before a failed build is
// still the live one, still run by the same process, still serving.
func (e *faultEnv) checkStillLive(t *testing.T, home string, before appState) {
	t.Helper()
	if after := e.appState(t, home); after != before {
		t.Errorf("the failed build changed the live app: before %+v, after %+v", before, after)
	}
	expectOn(t, e.tgt, "systemctl is-active example-production", "active")
	expectOn(t, e.tgt, "curl -s -H 'Host: example.test' http://127.0.0.1:80/ | cut -d, -f1", "hello from example-app (NODE_ENV=production")
	expectOn(t, e.tgt, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/healthz", "200")
}

// appWithFile is a copy of the example app with an incompressible file of
// size bytes in it; it returns the directory and the file's sha256.
func appWithFile(t *testing.T, size int) (string, string) {
	t.Helper()
	app := copyApp(t)
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(app, "big.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return app, sha256File(t, p)
}

// TestFaults is the fault tier: one sandbox target, Toxiproxy between
// Packer and its SSH and between it and the Node.js mirror, and the
// scenarios in an order where each leaves the machine as the next needs
// it. Each asserts what the user sees and the machine's state afterwards.
// Three primal builds (the first, one cut short by its timeout, a rerun)
// and five carnivore builds: about 4 minutes on 2 cores (the first primal
// build 60-75 s, the black hole bounded by a 45 s provisioner timeout).
func TestFaults(t *testing.T) {
	ph := newPhases(t)
	var dir string
	ph.run("build the Node.js mirror", func() { dir = nodemirror.Build(t, nodeNew) })
	e := &faultEnv{}
	ph.run("create sandbox target and Toxiproxy", func() {
		e.tgt = sandbox.New(t)
		tp := startToxiproxy(t)
		e.mirror = nodemirror.Serve(t, dir, "127.0.0.1:0")
		e.mirrorP = tp.proxy("mirror", e.tgt.HostIP+":0", e.mirror.Addr)
		e.ssh = tp.proxy("ssh", "127.0.0.1:0", e.tgt.IP+":22")
		e.registry, e.requests = unavailableRegistry(t, e.tgt.HostIP)
	})

	var user, home string
	ok := t.Run("slow mirror", func(t *testing.T) {
		ph.run("slow mirror (first primal build)", func() { faultSlowMirror(t, e) })
	})
	if !ok {
		t.Fatal("the first primal build failed: the other scenarios need it")
	}
	user = readManifest(t, e.tgt).InstanceUser
	home = strings.Split(strings.TrimSpace(e.tgt.MustRun(t, "getent passwd "+user)), ":")[5]
	t.Logf("instance user %s, home %s", user, home)

	t.Run("black hole mirror", func(t *testing.T) {
		ph.run("black-holed mirror (primal rerun, Packer timeout)", func() { faultBlackHole(t, e) })
	})
	t.Run("dpkg relock", func(t *testing.T) {
		ph.run("dpkg lock retaken (primal rerun)", func() { faultDpkgRelock(t, e) })
	})
	ok = t.Run("carnivore baseline", func(t *testing.T) {
		ph.run("carnivore baseline (precache hit)", func() {
			out, err := runFaultPacker(t, e.carnivoreArgs()...)
			if err != nil {
				t.Fatalf("carnivore build failed: %v", err)
			}
			wantAll(t, "the carnivore build's output", out, "node-carnivore: precache hit")
			if n := e.requests.Load(); n != 0 {
				t.Errorf("a precache hit sent the registry %d requests", n)
			}
			checkCarnivore(t, e.tgt)
		})
	})
	if !ok {
		t.Fatal("the baseline carnivore build failed: the app scenarios need a live release")
	}
	t.Run("registry 503", func(t *testing.T) {
		ph.run("registry answers 503 (carnivore precache miss)", func() { faultRegistry503(t, e, user, home) })
	})
	t.Run("disk full", func(t *testing.T) {
		ph.run("disk full during unpack (carnivore)", func() { faultDiskFull(t, e, user, home) })
	})
	t.Run("ssh reset", func(t *testing.T) {
		ph.run("SSH reset mid-step, then rerun (carnivore)", func() { faultSSHReset(t, e, home) })
	})
}

// faultSlowMirror: the first primal build downloads Node.js through a
// mirror that is slow (4 MB/s, 100 ms latency) but alive: it succeeds.
func faultSlowMirror(t *testing.T, e *faultEnv) {
	const rate = 4096 // KB/s
	e.mirrorP.toxic("slow", "bandwidth", "downstream", map[string]any{"rate": rate})
	e.mirrorP.toxic("far", "latency", "downstream", map[string]any{"latency": 100, "jitter": 20})
	defer e.mirrorP.clear()
	out, err := runFaultPacker(t, e.primalArgs(t, e.mirrorURL())...)
	if err != nil {
		t.Fatalf("primal build through a slow mirror failed: %v", err)
	}
	wantAll(t, "the build's output", out,
		`node-primal: node_version "22" is v`+nodeNew+" on "+e.mirrorURL(),
		"verified against SHASUMS256.txt",
		"] record what this image holds in /etc/node-primal/manifest.json: done in")
	archive := nodemirror.ArchivePath(nodeNew)
	if n := e.mirror.Requests(archive); n != 1 {
		t.Errorf("the mirror served %s %d times; want once", archive, n)
	}
	// The toxic was in the path: the download cannot beat the rate.
	st, err := os.Stat(filepath.Join(e.mirror.Dir, archive))
	if err != nil {
		t.Fatal(err)
	}
	line := lineWith(out, "] install Node.js v"+nodeNew)
	var d time.Duration
	if i := strings.LastIndex(line, ": done in "); i >= 0 {
		d, _ = time.ParseDuration(strings.TrimSpace(line[i+len(": done in "):]))
	}
	if min := time.Duration(st.Size()/1024/rate) * time.Second; d < min*8/10 {
		t.Errorf("the Node.js download took %s (%q); at %d KB/s it needs at least %s: was the bandwidth toxic in the path?", d, line, rate, min)
	}
	lockSHA := sha256File(t, filepath.Join(repoRoot(t), "example/app/package-lock.json"))
	checkPrimal(t, e.tgt, nodeNew, lockSHA)
}

// lineWith is the last line of out holding s and ": done in", or "".
func lineWith(out, s string) string {
	var got string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) && strings.Contains(l, ": done in ") {
			got = l
		}
	}
	return got
}

// faultBlackHole: a primal rerun against a mirror that accepts connections
// and never answers. curl alone would wait minutes (60 s of stall, three
// retries); Packer's per-provisioner timeout is the bound the user sets,
// and the build must stop within it, naming the mirror with its
// credentials redacted, and leave the machine as it was.
func faultBlackHole(t *testing.T, e *faultEnv) {
	const timeout = 45 * time.Second
	const secret = "bl4ckH0LEsecret"
	manifest := e.tgt.MustRun(t, "sha256sum "+precache.ManifestPath)
	index := e.mirror.Requests("index.json")
	// The mirror gets the request and answers; the answer (and the
	// mirror's closing the connection) is held back for an hour.
	e.mirrorP.toxic("hole", "latency", "downstream", map[string]any{"latency": 3600000})
	defer e.mirrorP.clear()
	withCreds := "http://nodebake:" + secret + "@" + e.mirrorP.Listen
	r := startPacker(t, e.primalArgs(t, withCreds, "-var", "timeout="+timeout.String())...)
	out, err := r.wait(t)
	if err == nil {
		t.Fatal("the build against a black-holed mirror succeeded")
	}
	// Bounded: the timeout, and Packer's own start and end.
	if r.took > timeout+45*time.Second {
		t.Errorf("the build took %s to fail with a %s timeout", r.took, timeout)
	}
	t.Logf("the build failed after %s; what the user sees:\n%s", r.took.Round(100*time.Millisecond), lastLines(out, 12))
	if n := e.mirror.Requests("index.json"); n != index+1 {
		t.Errorf("the mirror had %d requests for index.json through the black hole; want 1", n-index)
	}
	wantAll(t, "the failed build's output", out,
		"Cancelling provisioner after a timeout",
		"node_mirror: no answer from http://nodebake:xxxxx@"+e.mirrorP.Listen+"/index.json before the build was stopped (by the provisioner's timeout or an interrupt)")
	if strings.Contains(out, secret) {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, secret) {
				t.Errorf("the mirror's password shows in: %s", l)
			}
		}
	}
	if got := e.tgt.MustRun(t, "sha256sum "+precache.ManifestPath); got != manifest {
		t.Errorf("the failed build changed the manifest")
	}
	expectOn(t, e.tgt, "node --version", "v"+nodeNew)
	expectOn(t, e.tgt, "systemctl is-active nginx", "active")
	expectOn(t, e.tgt, "nft list table ip node_primal | grep -c 'tcp dport 80 redirect to :8080'", "2")
}

// faultDpkgRelock: like unattended-upgrades, another process holds the
// dpkg lock, lets it go while the build's wait sees it free, and takes it
// again before the build installs a package: the install waits for it and
// the build succeeds.
func faultDpkgRelock(t *testing.T, e *faultEnv) {
	const pkg = "tree" // small, and not in the base image
	// The holder's signals are files on the target's root filesystem, which
	// the host writes directly (no SSH round trip between what Packer says
	// and the holder acting on it).
	const dir = "/var/tmp/faults-relock"
	signal := func(name string) {
		if err := os.WriteFile(filepath.Join(e.tgt.RootFS, dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.tgt.MustRun(t, "rm -rf "+dir+" && mkdir "+dir)
	e.tgt.MustRun(t, relockDpkg)
	defer e.tgt.Run("systemctl stop faults-dpkg-relock 2>/dev/null; rm -rf " + dir)
	r := startPacker(t, e.primalArgs(t, e.mirrorURL(), "-var", `extra_packages=["`+pkg+`"]`)...)
	if !r.waitFor("waiting for the dpkg lock (/var/lib/dpkg/lock-frontend)", 3*time.Minute) {
		out, _ := r.wait(t)
		t.Fatalf("the build did not wait for the held lock:\n%s", lastLines(out, 20))
	}
	signal("release")
	if !r.waitFor("dpkg lock is free", time.Minute) {
		out, _ := r.wait(t)
		t.Fatalf("the build did not see the lock free:\n%s", lastLines(out, 20))
	}
	// Between the wait and the install (apt-get update comes between).
	signal("retake")
	if !r.waitFor("installing: "+pkg, 2*time.Minute) {
		out, _ := r.wait(t)
		t.Fatalf("the build did not come to the install:\n%s", lastLines(out, 20))
	}
	if _, err := os.Stat(filepath.Join(e.tgt.RootFS, dir, "retaken")); err != nil {
		t.Errorf("the holder had not retaken the lock when the install began: %v", err)
	}
	// Held a few seconds more into the install, then let go.
	time.Sleep(4 * time.Second)
	signal("finish")
	out, err := r.wait(t)
	if err != nil {
		t.Fatalf("the build failed with the dpkg lock taken again: %v", err)
	}
	wantAll(t, "the build's output", out,
		"installing: "+pkg,
		"Could not get lock /var/lib/dpkg/lock-frontend")
	expectOn(t, e.tgt, "dpkg-query -W -f '${Status}' "+pkg, "install ok installed")
	expectOn(t, e.tgt, "cat "+dir+"/done 2>/dev/null || echo running", "done")
}

// relockDpkg starts a transient service that takes dpkg's frontend lock as
// dpkg does (fcntl), lets it go when /var/tmp/faults-relock/release
// appears, takes it again when .../retake appears, and lets it go for good
// when .../finish appears.
const relockDpkg = `systemd-run --unit=faults-dpkg-relock --collect perl -MFcntl -e '
my $d = "/var/tmp/faults-relock";
open(my $f, ">>", "/var/lib/dpkg/lock-frontend") or die "open: $!";
sub lk { fcntl($f, F_SETLKW, pack("s s x4 q q i x4", $_[0], 0, 0, 0, 0)) or die "lock: $!" }  # struct flock, x86_64
sub await { my $n = 0; until (-e "$d/$_[0]") { select(undef, undef, undef, 0.05); die "no $_[0]" if ++$n > 6000 } }
lk(F_WRLCK);
await("release");
lk(F_UNLCK);
await("retake");
lk(F_WRLCK);
open(my $m, ">", "$d/retaken"); print $m "retaken\n"; close $m;
await("finish");
lk(F_UNLCK);
open($m, ">", "$d/done"); print $m "done\n"; close $m;'
id=$(printf '%02x:%02x:%s' $(stat -c '%Hd %Ld %i' /var/lib/dpkg/lock-frontend))
for i in $(seq 50); do
  grep -q " $id " /proc/locks && exit 0
  sleep 0.1
done
echo "the lock holder did not take the lock" >&2
exit 1
`

// faultRegistry503: an app whose lockfile adds a dependency the precache
// lacks (a precache miss), against a registry that answers 503. The build
// fails naming the step and the registry; the release live before is
// still live, run by the same process, and serving.
func faultRegistry503(t *testing.T, e *faultEnv, user, home string) {
	before := e.appState(t, home)
	app := copyApp(t)
	addDependency(t, app, "nodebake-fault-dep", "1.0.0")
	// npm retries a 5xx after 10 s, then 60 s: shorten its waits on this
	// machine (npm's global config) so the scenario takes seconds; the
	// retries and the final error are npm's own.
	gc := strings.TrimSpace(e.tgt.MustRun(t, "runuser -u "+user+" -- npm config get globalconfig"))
	e.tgt.MustRun(t, "test ! -e "+gc+" && mkdir -p \"$(dirname "+gc+")\" && printf 'fetch-retry-mintimeout=500\\nfetch-retry-maxtimeout=1000\\n' > "+gc)
	defer e.tgt.Run("rm -f " + gc)
	releases := e.tgt.MustRun(t, "ls "+home+"/app/releases")
	n := e.requests.Load()
	out, err := runFaultPacker(t, e.carnivoreArgs("-var", "source_dir="+app)...)
	if err == nil {
		t.Fatal("the build succeeded with the registry answering 503")
	}
	if e.requests.Load() == n {
		t.Error("the registry got no request: the build did not need it")
	}
	wantAll(t, "the failed build's output", out,
		"precache miss",
		`step "install the app's dependencies with npm (precache miss), then verify their registry signatures" failed`,
		"503",
		"npm error 503 Service Unavailable - GET "+e.registry,
		"removed the unfinished release "+home+"/app/releases/")
	e.checkStillLive(t, home, before)
	if got := e.tgt.MustRun(t, "ls "+home+"/app/releases"); got != releases {
		t.Errorf("the failed build left releases %q; before it: %q", got, releases)
	}
}

// addDependency adds name@version to the app's package.json and lockfile.
func addDependency(t *testing.T, app, name, version string) {
	t.Helper()
	edit := func(file string, f func(m map[string]any)) {
		p := filepath.Join(app, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		if b, err = json.MarshalIndent(m, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("package.json", func(m map[string]any) { m["dependencies"].(map[string]any)[name] = version })
	edit("package-lock.json", func(m map[string]any) {
		pk := m["packages"].(map[string]any)
		pk[""].(map[string]any)["dependencies"].(map[string]any)[name] = version
		pk["node_modules/"+name] = map[string]any{"version": version, "license": "MIT"}
	})
}

// faultDiskFull: the releases directory is on a small filesystem that the
// app's unpack fills. The build fails naming the step and the cause; the
// release live before is still live and serving.
func faultDiskFull(t *testing.T, e *faultEnv, user, home string) {
	before := e.appState(t, home)
	rel := home + "/app/releases"
	// A tmpfs with 16 MB to spare, holding a copy of the releases (the live
	// one among them), mounted over the directory.
	e.tgt.MustRun(t, fmt.Sprintf(`set -e
rel=%[1]s
used=$(du -sm "$rel" | cut -f1)
rm -rf /run/faults-releases && cp -a "$rel" /run/faults-releases
mount -t tmpfs -o size=$((used + 16))m,mode=0755,uid=$(id -u %[2]s),gid=$(id -g %[2]s) faults-releases "$rel"
cp -a /run/faults-releases/. "$rel"/
rm -rf /run/faults-releases`, rel, user))
	unmount := func() { e.tgt.Run("umount " + rel + " 2>/dev/null") }
	t.Cleanup(unmount)
	defer unmount()
	expectOn(t, e.tgt, "findmnt -n -o FSTYPE "+rel, "tmpfs")
	e.checkStillLive(t, home, before)
	releases := e.tgt.MustRun(t, "ls "+rel)

	app, _ := appWithFile(t, 48<<20)
	out, err := runFaultPacker(t, e.carnivoreArgs("-var", "source_dir="+app)...)
	if err == nil {
		t.Fatal("the build succeeded on a full disk")
	}
	wantAll(t, "the failed build's output", out,
		`step "unpack the app into a new release" failed`,
		"No space left on device",
		"removed the unfinished release "+rel+"/")
	e.checkStillLive(t, home, before)
	// The half-unpacked release is gone: the disk is as full as before.
	if got := e.tgt.MustRun(t, "ls "+rel); got != releases {
		t.Errorf("the failed build left releases %q; before it: %q", got, releases)
	}
	expectOn(t, e.tgt, "test $(df --output=avail -m "+rel+" | tail -1) -ge 8 && echo space", "space")
}

// faultSSHReset: Packer's SSH connection is reset while the app streams in
// (the upload slowed to 2 MB/s so that it is mid-way); the build fails
// naming the step. A rerun with the network healthy reaches the same end
// state as an undisturbed build.
func faultSSHReset(t *testing.T, e *faultEnv, home string) {
	releases := e.tgt.MustRun(t, "ls "+home+"/app/releases")
	app, sum := appWithFile(t, 24<<20)
	e.ssh.toxic("thin", "bandwidth", "upstream", map[string]any{"rate": 2048})
	defer e.ssh.clear()
	r := startPacker(t, e.carnivoreArgs("-var", "source_dir="+app)...)
	if !r.waitFor("] unpack the app into a new release", 2*time.Minute) {
		out, _ := r.wait(t)
		t.Fatalf("the build never reached the unpack:\n%s", lastLines(out, 20))
	}
	time.Sleep(3 * time.Second)
	e.ssh.toxic("reset", "reset_peer", "downstream", map[string]any{"timeout": 0})
	out, err := r.wait(t)
	e.ssh.clear()
	if err == nil {
		t.Fatal("the build succeeded through a reset connection")
	}
	if took := r.took; took > 3*time.Minute {
		t.Errorf("the build took %s to notice the reset", took)
	}
	wantAll(t, "the failed build's output", out,
		`step "unpack the app into a new release" failed`,
		"the connection to the machine was lost while it ran")
	t.Logf("what the user sees:\n%s", lastLines(out, 15))
	// On the machine, the unpack saw its stream end and removed its release.
	var got string
	for i := 0; i < 50; i++ {
		if got = e.tgt.MustRun(t, "ls "+home+"/app/releases"); got == releases {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != releases {
		t.Errorf("the cut-off build left releases %q; before it: %q", got, releases)
	}
	// Nor did the step's script or its staged env file stay behind, though
	// the build never got to remove its staging directory.
	expectOn(t, e.tgt, "find /dev/shm /tmp -path '*/packer-node.*' -type f | wc -l", "0")

	out, err = runFaultPacker(t, e.carnivoreArgs("-var", "source_dir="+app)...)
	if err != nil {
		t.Fatalf("the rerun after the reset failed: %v", err)
	}
	wantAll(t, "the rerun's output", out, "node-carnivore: precache hit")
	checkCarnivore(t, e.tgt)
	expectOn(t, e.tgt, "ls "+home+"/app/releases | wc -l", "1")
	expectOn(t, e.tgt, "test -e "+release.IncomingFile+" || echo none", "none")
	expectOn(t, e.tgt, "sha256sum < "+home+"/app/server/big.bin | cut -d' ' -f1", sum)
}
