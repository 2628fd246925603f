//go:build e2e

package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

const carnivoreTemplate = "example/sandbox/carnivore.pkr.hcl"

// hcpSBOMTemplate pairs node-carnivore with Packer's hcp-sbom provisioner
// (Packer 1.12 and later).
const hcpSBOMTemplate = "example/sandbox/carnivore-hcp-sbom.pkr.hcl"

func carnivoreArgs(tgt *sandbox.Target, extra ...string) []string {
	return carnivoreArgsFor(carnivoreTemplate, tgt, extra...)
}

// carnivoreArgsFor is carnivoreArgs for another template with the same
// variables (hcpSBOMTemplate).
func carnivoreArgsFor(template string, tgt *sandbox.Target, extra ...string) []string {
	args := []string{"build",
		"-var", "host=" + tgt.IP,
		"-var", "ssh_username=" + sandbox.AdminUser,
		"-var", "ssh_private_key_file=" + tgt.KeyPath,
		"-var", "https_proxy=" + tgt.ProxyURL,
		"-var", "no_proxy=" + tgt.HostIP,
	}
	return append(append(args, extra...), template)
}

// countingRegistry is an npm registry stand-in on the target's link that
// counts requests and serves nothing: a precache hit must send it none.
func countingRegistry(t *testing.T, hostIP string) (string, *atomic.Int64) {
	var n atomic.Int64
	ln, err := net.Listen("tcp", hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", &n
}

// TestCarnivoreOnSandbox bakes the example app onto a primal-provisioned
// sandbox Debian and checks it serves through port 80; then the scenarios:
// a rerun, a precache miss, a broken nginx override, an unhealthy app.
func TestCarnivoreOnSandbox(t *testing.T) {
	ph := newPhases(t)
	var dir string
	ph.run("build the Node.js mirror", func() { dir = nodemirror.Build(t, nodeNew) })
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	mirror := nodemirror.Serve(t, dir, tgt.HostIP+":0")
	ph.run("primal packer build", func() {
		out, err := runPacker(t, primalArgs(t, tgt, mirror, "-var", "node_version="+nodeNew)...)
		if err != nil {
			t.Fatalf("primal build failed: %v", err)
		}
		// The host's registry publishes no signing keys: npm_audit_signatures
		// (auto) says so after the precache's install, and goes on.
		checkNoKeysNotice(t, out)
	})

	// A precache hit: the app's lockfile is the one primal precached. The
	// registry is a counting stand-in that must see no request.
	registry, requests := countingRegistry(t, tgt.HostIP)
	var out string
	sbomOut := filepath.Join(t.TempDir(), "sbom.cdx.json")
	ph.run("carnivore packer build (precache hit)", func() {
		var err error
		if out, err = runPacker(t, carnivoreArgs(tgt, "-var", "npm_registry="+registry, "-var", "sbom_output="+sbomOut)...); err != nil {
			t.Fatalf("carnivore build failed: %v", err)
		}
	})
	if !strings.Contains(out, "node-carnivore: precache hit: package-lock.json (sha256 ") {
		t.Error("the build did not report a precache hit")
	}
	// It closes with what the image now holds.
	for _, want := range []string{
		"node-carnivore: instance_user defaults to \"node\", the user node-primal's manifest records",
		"node-carnivore: 8 steps done in ", "; the image now holds:",
		"node-carnivore:   release:      /home/node/app/server → /home/node/app/releases/",
		"node-carnivore:   service:      example-production (systemd, enabled at boot, running as node)",
		"packages, ", "MiB, copied from the precache",
		"node-carnivore:   health:       GET /healthz answered 200 through :80",
		"node-carnivore:   secrets:      /home/node/app/server/.env.json (mode 0600, owner node)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the build output lacks %q", want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry got %d requests during a precache hit; want 0", n)
	}
	checkSBOM(t, tgt, sbomOut)
	checkSecretsNotShown(t, out)
	ph.run("check the app", func() { checkCarnivore(t, tgt) })
	before := tgt.MustRun(t, "readlink /home/node/app/server; ls /home/node/app/releases | wc -l")

	// The verdict parses the manifest: the same manifest written compactly,
	// keys in another order, still gives a hit on the rerun.
	tgt.MustRun(t, `m=/etc/node-primal/manifest.json; /usr/local/bin/node -e '
const fs = require("fs"), m = JSON.parse(fs.readFileSync(process.argv[1]));
fs.writeFileSync(process.argv[1], JSON.stringify(Object.fromEntries(Object.entries(m).reverse())));' "$m"; head -c 40 "$m"`)

	// The rerun is example/sandbox/carnivore-hcp-sbom.pkr.hcl with Packer
	// 1.16.0: the same release, then Packer's own hcp-sbom provisioner
	// takes node-carnivore's SBOM from the image, with no HCP account.
	hcpSBOM := filepath.Join(t.TempDir(), "hcp-sbom", "example-production.cdx.json")
	ph.run("carnivore rerun, with hcp-sbom (Packer 1.16.0)", func() {
		var err error
		args := carnivoreArgsFor(hcpSBOMTemplate, tgt, "-var", "npm_registry="+registry, "-var", "sbom_destination="+hcpSBOM)
		if out, err = execPacker(t, packerBinary(t, "1.16.0"), nil, args...); err != nil {
			t.Fatalf("carnivore rerun with hcp-sbom failed: %v", err)
		}
	})
	if !strings.Contains(out, "node-carnivore: precache hit: package-lock.json (sha256 ") {
		t.Error("the rerun on a compactly rewritten manifest did not report a precache hit")
	}
	// hcp-sbom's copy is the image's SBOM, byte for byte, and that one is
	// the release's installed tree (checkSBOM).
	checkSBOM(t, tgt, hcpSBOM)
	after := tgt.MustRun(t, "readlink /home/node/app/server; ls /home/node/app/releases | wc -l")
	if before == after || !strings.HasSuffix(after, "\n1\n") {
		t.Errorf("the rerun should switch to a new release and keep only it: before %q after %q", before, after)
	}
	checkCarnivore(t, tgt)

	// A precache miss: an app whose lockfile differs installs with npm.
	var app string
	ph.run("carnivore packer build (precache miss)", func() {
		app = copyApp(t)
		lock := filepath.Join(app, "package-lock.json")
		b, _ := os.ReadFile(lock)
		os.WriteFile(lock, []byte(strings.Replace(string(b), `"version": "1.0.0"`, `"version": "1.0.1"`, 1)), 0o644)
		// The app's own lifecycle scripts fail on an image (as "prepare":
		// "husky" does); they must not run.
		pkg := filepath.Join(app, "package.json")
		pb, _ := os.ReadFile(pkg)
		os.WriteFile(pkg, []byte(strings.Replace(string(pb), `"start": "node cluster.js"`,
			`"start": "node cluster.js", "prepare": "exit 1", "postinstall": "exit 1"`, 1)), 0o644)
		var err error
		if out, err = runPacker(t, carnivoreArgs(tgt, "-var", "source_dir="+app)...); err != nil {
			t.Fatalf("carnivore build (miss) failed: %v", err)
		}
	})
	if !strings.Contains(out, "precache miss: precache.lockfile_sha256: image ") {
		t.Error("the build did not report the precache miss")
	}
	checkNoKeysNotice(t, out)
	checkCarnivore(t, tgt)

	// The same miss from registries that sign their packages: npm audit
	// signatures verifies every installed package, and a tampered
	// signature fails the build (signing_registry_test.go).
	checkAuditSignatures(t, ph, tgt, app)

	// The same app with require_precache_hit: the miss fails the build
	// before it touches the machine, naming what differs.
	ph.run("carnivore packer build (miss, require_precache_hit)", func() {
		live := tgt.MustRun(t, "readlink /home/node/app/server")
		var err error
		out, err = runPacker(t, carnivoreArgs(tgt, "-var", "source_dir="+app, "-var", "require_precache_hit=true")...)
		if err == nil {
			t.Fatal("a precache miss with require_precache_hit succeeded")
		}
		if want := "require_precache_hit: the primal image's precache does not hold this app's dependencies (miss: precache.lockfile_sha256: image "; !strings.Contains(out, want) {
			t.Errorf("the failed build's output lacks %q", want)
		}
		if strings.Contains(out, "] unpack the app") {
			t.Error("the build ran steps before refusing the miss")
		}
		if got := tgt.MustRun(t, "readlink /home/node/app/server"); got != live {
			t.Errorf("the live release changed: %s -> %s", live, got)
		}
	})

	// A site override nginx rejects fails the build before any reload and
	// leaves the previous configuration serving.
	ph.run("carnivore packer build (broken site_conf)", func() {
		bad := filepath.Join(t.TempDir(), "site.conf")
		os.WriteFile(bad, []byte("server { listen {{.NginxPort}}; no_such_directive on; }\n"), 0o644)
		siteBefore := tgt.MustRun(t, "sha256sum /etc/nginx/sites-available/example-production.conf /etc/nginx/nginx.conf")
		var err error
		out, err = runPacker(t, carnivoreArgs(tgt, "-var", "site_conf="+bad)...)
		if err == nil {
			t.Fatal("a site_conf nginx rejects did not fail the build")
		}
		for _, want := range []string{`step "configure nginx for example-production" failed`, `unknown directive "no_such_directive"`, "the previous one is back in place"} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed build's output lacks %q", want)
			}
		}
		if got := tgt.MustRun(t, "sha256sum /etc/nginx/sites-available/example-production.conf /etc/nginx/nginx.conf"); got != siteBefore {
			t.Errorf("the nginx config changed:\n%s\n%s", siteBefore, got)
		}
	})
	checkCarnivore(t, tgt)

	// A build whose nginx_port is not the one the primal image redirects to
	// fails before it touches the machine, naming the setting.
	ph.run("carnivore packer build (nginx_port disagrees with primal)", func() {
		releases := tgt.MustRun(t, "ls /home/node/app/releases")
		var err error
		out, err = runPacker(t, carnivoreArgs(tgt, "-var", "nginx_port=8081")...)
		if err == nil {
			t.Fatal("a build with another nginx_port than node-primal's succeeded")
		}
		if want := "nginx_port: node-primal made this image with nginx_port = 8080 (recorded in /etc/node-primal/manifest.json), this build has 8081"; !strings.Contains(out, want) {
			t.Errorf("the failed build's output lacks %q", want)
		}
		if got := tgt.MustRun(t, "ls /home/node/app/releases"); got != releases {
			t.Errorf("the refused build touched the releases: %q, was %q", got, releases)
		}
	})

	// An app that never answers fails the build, showing its last log lines.
	ph.run("carnivore packer build (unhealthy app)", func() {
		app := copyApp(t)
		os.WriteFile(filepath.Join(app, "broken.js"), []byte("console.error('broken app: refusing to start'); process.exit(3);\n"), 0o644)
		var err error
		out, err = runPacker(t, carnivoreArgs(tgt, "-var", "source_dir="+app, "-var", "entrypoint=broken.js", "-var", "health_timeout=8s")...)
		if err == nil {
			t.Fatal("an app that does not start passed the health check")
		}
		for _, want := range []string{`step "health check http://127.0.0.1:80/healthz" failed`, "did not answer 200 within 8s", "broken app: refusing to start"} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed build's output lacks %q", want)
			}
		}
	})
	checkSecretsNotShown(t, out)

	// The init.d way, for images without systemd: the script starts the
	// app with start-stop-daemon as the instance user; the unit is gone.
	ph.run("carnivore packer build (sysvinit)", func() {
		var err error
		if out, err = runPacker(t, carnivoreArgs(tgt, "-var", "service_manager=sysvinit")...); err != nil {
			t.Fatalf("carnivore build with sysvinit failed: %v", err)
		}
	})
	expectOn(t, tgt, "test -e /etc/systemd/system/example-production.service || echo 'no unit'", "no unit")
	expectOn(t, tgt, "ls /etc/rc2.d | grep -c example-production", "1")
	expectOn(t, tgt, "ps -o user= -p $(cat /run/example-production.pid)", "node")
	expectOn(t, tgt, "curl -s -H 'Host: example.test' http://127.0.0.1:80/ | cut -d, -f1", "hello from example-app (NODE_ENV=production")
}

func copyApp(t *testing.T) string {
	dst := filepath.Join(t.TempDir(), "app")
	if out, err := runCmd("cp", "-a", filepath.Join(repoRoot(t), "example", "app"), dst); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

func checkSecretsNotShown(t *testing.T, out string) {
	t.Helper()
	for _, secret := range []string{"example-only-not-a-real-secret-5f2c", "example-password-9d1e"} {
		if strings.Contains(out, secret) {
			t.Errorf("the build output shows a value of the env file (%s)", secret)
		}
	}
}

func checkCarnivore(t *testing.T, tgt *sandbox.Target) {
	t.Helper()
	expectOn(t, tgt, "systemctl is-enabled example-production", "enabled")
	expectOn(t, tgt, "systemctl is-active example-production", "active")
	expectOn(t, tgt, "systemctl show -p User,NoNewPrivileges --value example-production | tr '\\n' ' '", "node yes")
	expectOn(t, tgt, "curl -s -H 'Host: example.test' http://127.0.0.1:80/ | cut -d, -f1", "hello from example-app (NODE_ENV=production")
	expectOn(t, tgt, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/healthz", "200")
	expectOn(t, tgt, "curl -s http://127.0.0.1:80/hello.txt", "a static file, served by nginx")
	expectOn(t, tgt, "stat -c '%a %U' /home/node/app/server/.env.json", "600 node")
	// nginx's workers are www-data, not the app's user: they read the
	// static files through their permissions, and never the secrets.
	expectOn(t, tgt, "ps -o user= -C nginx | sort -u | tr '\\n' ' '", "root www-data")
	expectOn(t, tgt, "runuser -u www-data -- cat /home/node/app/server/.env.json >/dev/null 2>&1 || echo unreadable", "unreadable")
	expectOn(t, tgt, "runuser -u www-data -- cat /home/node/app/server/.bin/public/hello.txt", "a static file, served by nginx")
	// No dotfile is ever served, by nginx or through the app.
	for _, p := range []string{"/.env.json", "/.git/config", "/.bin/public/hello.txt", "/sub/.npmrc"} {
		expectOn(t, tgt, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80"+p, "403")
	}
	expectOn(t, tgt, "test -e /etc/nginx/sites-enabled/default || echo gone", "gone")
	expectOn(t, tgt, "grep -c 'server_name example.test www.example.test;' /etc/nginx/sites-enabled/example-production.conf", "1")
	expectOn(t, tgt, "find /home/node/app/server/ ! -user node | wc -l", "0")
}
