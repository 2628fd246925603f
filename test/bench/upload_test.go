//go:build bench

package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/archive"
	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
	"github.com/nodebake/packer-plugin-node/test/toxiproxy"
)

// rtts are the links measured: a CI runner next to its target, one to a
// near cloud region, one to a far one.
var rtts = []time.Duration{0, 20 * time.Millisecond, 80 * time.Millisecond}

// capKBps is Toxiproxy's bandwidth toxic for 100 Mbit/s (its rate is in KB/s).
const capKBps = 100 * 1000 * 1000 / 8 / 1000

const unpackStep = "unpack the app into a new release"

// benchUpload: node-carnivore's streamed upload of a 10,000-file tree
// against Packer's file provisioner, with Toxiproxy on the SSH path
// between Packer and the target (round trips of 0, 20 and 80 ms, 100
// Mbit/s each way), and a realistic app (example/app with its
// dependencies' sources as assets), with where its upload's time goes.
func benchUpload(t *testing.T) {
	tree := tenThousandFiles(t)
	mirror := nodemirror.Build(t, nodemirror.Node22)
	tgt := sandbox.New(t)
	m := nodemirror.Serve(t, mirror, tgt.HostIP+":0")
	primal(t, tgt, m)
	app := realisticApp(t, tgt)

	p := toxiproxy.Start(t).Proxy("ssh", "127.0.0.1:0", tgt.IP+":22")
	l := link{"127.0.0.1", p.Port()}
	b := &strings.Builder{}
	b.WriteString("### Uploads over a link with latency (Toxiproxy on the SSH path, 100 Mbit/s each way)\n\n")
	b.WriteString("| RTT | 10,000 files: node-carnivore upload step | whole carnivore build | file provisioner (whole build) | file / upload step | example app + deps: upload step | whole build |\n|---|---|---|---|---|---|---|\n")
	for _, rtt := range rtts {
		p.Link(rtt, capKBps)
		out, whole := carnivore(t, tgt, l, "-var", "source_dir="+tree)
		up := stepTime(t, out, unpackStep)
		outApp, wholeApp := carnivore(t, tgt, l, "-var", "source_dir="+app)
		upApp := stepTime(t, outApp, unpackStep)
		_, file := packer(t, append(append([]string{"build"}, common(tgt, l)...),
			"-var", "source_dir="+tree, "example/sandbox/upload-file.pkr.hcl")...)
		if n := strings.TrimSpace(tgt.MustRun(t, "find /tmp/upload-file-baseline -type f | wc -l")); n != fileCount(t, tree) {
			t.Fatalf("the file provisioner uploaded %s files; the tree has %s", n, fileCount(t, tree))
		}
		goal := ""
		if rtt == rtts[2] {
			goal = "; goal ≥ 10×"
		}
		record("upload", fmt.Sprintf("10,000 files, RTT %d ms: file provisioner vs node-carnivore upload step", rtt/time.Millisecond),
			secs(file)+" vs "+secs(up), fmt.Sprintf("**%s** (vs the whole carnivore build, %s: %s%s)", ratio(file, up), secs(whole), ratio(file, whole), goal))
		fmt.Fprintf(b, "| %d ms | %s | %s | %s | %s | %s | %s |\n", rtt/time.Millisecond, secs(up), secs(whole), secs(file), ratio(file, up), secs(upApp), secs(wholeApp))
		record("upload", fmt.Sprintf("example app + deps, RTT %d ms: node-carnivore upload step / whole build", rtt/time.Millisecond), secs(upApp)+" / "+secs(wholeApp), "")
	}
	breakdown(t, tgt, app, b)
	detail(b.String())
}

// tenThousandFiles is example/app plus 100 directories of 100 small files:
// a front end's build output, roughly.
func tenThousandFiles(t *testing.T) string {
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
	return tree
}

func fileCount(t *testing.T, tree string) string {
	n, _, err := archive.Count(tree, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(n)
}

// realisticApp is example/app with the sources of its production
// dependencies (the precache node-primal installed on tgt) as assets:
// a few MB of real JavaScript, JSON and docs in a few thousand files.
func realisticApp(t *testing.T, tgt *sandbox.Target) string {
	app := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(root(), "example", "app"), app).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.MkdirAll(filepath.Join(app, "public"), 0o755)
	if out, err := exec.Command("cp", "-a", filepath.Join(tgt.RootFS, "home/node/app/precache/node_modules"), filepath.Join(app, "public", "vendor")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return app
}

// breakdown says where the realistic app's upload goes: compressing it on
// the host (alone, to nowhere), its compressed size over 100 Mbit/s, and
// unpacking it on the target (alone, timed there).
func breakdown(t *testing.T, tgt *sandbox.Target, app string, b *strings.Builder) {
	files, raw, err := archive.Count(app, archive.DefaultExcludes)
	if err != nil {
		t.Fatal(err)
	}
	// /var/tmp: the target's /tmp is a tmpfs of its own, which the host
	// does not see through RootFS.
	f, err := os.Create(filepath.Join(tgt.RootFS, "var", "tmp", "bench-app.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := io.Copy(f, archive.Stream(app, archive.DefaultExcludes))
	compress := time.Since(start)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	wire := time.Duration(float64(n) / float64(capKBps*1000) * float64(time.Second))
	out := tgt.MustRun(t, `set -e; rm -rf /var/tmp/bench-unpack; mkdir /var/tmp/bench-unpack
s=$(date +%s%N); tar -xzf /var/tmp/bench-app.tar.gz -C /var/tmp/bench-unpack; sync; e=$(date +%s%N)
test "$(find /var/tmp/bench-unpack -type f | wc -l)" -gt 0
rm -rf /var/tmp/bench-unpack /var/tmp/bench-app.tar.gz
echo $(( (e - s) / 1000000 ))`)
	ms, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("unpack time on the target: %q", out)
	}
	unpack := time.Duration(ms) * time.Millisecond
	fmt.Fprintf(b, "\nWhere the example app's upload goes (%d files, %.1f MB, %.1f MB as tar.gz): compression on the host %s "+
		"(alone; while streaming it overlaps the transfer), the compressed bytes at 100 Mbit/s %s, unpacking on the target %s "+
		"(alone, with sync). The rest of the upload step at each RTT is SSH: the session, the script's upload and its exit status, a few round trips.\n",
		files, float64(raw)/1e6, float64(n)/1e6, secs2(compress), secs2(wire), secs2(unpack))
	record("upload", "example app + deps: compress / transfer at 100 Mbit/s / unpack",
		secs2(compress)+" / "+secs2(wire)+" / "+secs2(unpack), fmt.Sprintf("%d files, %.1f MB → %.1f MB tar.gz", files, float64(raw)/1e6, float64(n)/1e6))
}

func secs2(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
