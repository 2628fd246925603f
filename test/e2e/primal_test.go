//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

const primalTemplate = "example/sandbox/primal.pkr.hcl"

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Node.js releases the local mirror carries (built from the npm registry).
const (
	nodeNew = nodemirror.Node22
	nodeOld = nodemirror.Node20
)

// primalArgs are `packer build` arguments for the example template against
// tgt, with the target's egress proxy, the host's CA certificates and a
// Node.js mirror served on the host's side of the target's link, whose
// signing key the build trusts.
func primalArgs(t *testing.T, tgt *sandbox.Target, m *nodemirror.Mirror, extra ...string) []string {
	return primalArgsKey(t, tgt, m.URL, m.Key.PublicKey, extra...)
}

// primalArgsKey is primalArgs with the mirror's URL and the key trusted
// to sign its SHASUMS256.txt (none: "").
func primalArgsKey(t *testing.T, tgt *sandbox.Target, mirrorURL, key string, extra ...string) []string {
	args := []string{"build",
		"-var", "host=" + tgt.IP,
		"-var", "ssh_username=" + sandbox.AdminUser,
		"-var", "ssh_private_key_file=" + tgt.KeyPath,
		"-var", "https_proxy=" + tgt.ProxyURL,
		"-var", "no_proxy=" + tgt.HostIP,
		"-var", "node_mirror=" + mirrorURL,
		"-var", "ca_certificates=" + hostCAs(t),
	}
	if key != "" {
		b, _ := json.Marshal([]string{key})
		args = append(args, "-var", "node_release_keys="+string(b))
	}
	args = append(args, extra...)
	return append(args, primalTemplate)
}

// hostCAs is the host's extra CA certificates as an HCL list: the network
// here inspects TLS, like many corporate ones, so the image must trust them.
func hostCAs(t *testing.T) string {
	files, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	b, _ := json.Marshal(append([]string{}, files...))
	return string(b)
}

func sha256File(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPrimalOnSandbox runs node-primal for real against a booted Debian
// (systemd as PID 1) as the non-root user admin: the tarball installer from
// a local mirror, the redirect, the precache with a lockfile. It checks the
// machine, reruns the build and checks nothing changed, reruns it while
// another process holds the dpkg lock, precaches without a lockfile, and
// finally asks for a release whose checksum is wrong.
func TestPrimalOnSandbox(t *testing.T) {
	ph := newPhases(t)
	var dir string
	ph.run("build the Node.js mirror", func() { dir = nodemirror.Build(t, nodeNew, nodeOld) })
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	mirror := nodemirror.Serve(t, dir, tgt.HostIP+":0")
	args := primalArgs(t, tgt, mirror, "-var", "node_version=22")

	var out string
	ph.run("first packer build", func() {
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("first packer build failed: %v", err)
		}
	})
	for _, want := range []string{
		"made the system account node (home /home/node)",
		"] wait for the dpkg lock: done in",
		`node-primal: node_version "22" is v` + nodeNew,
		"SHASUMS256.txt.asc: good signature by " + mirror.Key.Fingerprint + " (nodemirror test mirror <nodemirror@example.test>)",
		"sha256 ", "verified against SHASUMS256.txt signed by " + mirror.Key.Fingerprint,
		"] precache production dependencies in /home/node/app/precache (miss: no manifest at /etc/node-primal/manifest.json), then verify their registry signatures: done in",
		// The closing summary: what the image now holds.
		"; the image now holds:",
		"node-primal:   app account: node (home /home/node)",
		"node-primal:   Node.js:     v" + nodeNew + ", npm ",
		"node-primal:   precache:    /home/node/app/precache: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q", want)
		}
	}
	// One count for the three plans: the last step is n of n, and the
	// summary says n steps.
	// The last one writes the SBOM of what the image holds.
	if m := regexp.MustCompile(`node-primal: \[(\d+)/(\d+)\] write the SBOM \(CycloneDX: (\d+) npm packages, Node.js, (\d+) OS packages\) to /usr/share/node-primal/sbom.cdx.json: done in`).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Errorf("the last step is not numbered n of n: %v", m)
	} else {
		if !strings.Contains(out, "node-primal: "+m[2]+" steps done in ") {
			t.Errorf("the summary does not count %s steps", m[2])
		}
		var doc cdx.BOM
		if err := cdx.NewBOMDecoder(strings.NewReader(tgt.MustRun(t, "cat /usr/share/node-primal/sbom.cdx.json")), cdx.BOMFileFormatJSON).Decode(&doc); err != nil || doc.Components == nil {
			t.Errorf("node-primal's SBOM does not parse: %v", err)
		} else if n := len(*doc.Components); m[3] == "0" || fmt.Sprint(n) != fmt.Sprint(1+atoi(m[3])+atoi(m[4])) {
			t.Errorf("node-primal's SBOM has %d components; the step said %s npm and %s OS packages, and Node.js", n, m[3], m[4])
		} else if want := "sha256:" + sha256File(t, filepath.Join(repoRoot(t), "example/app/package-lock.json")); doc.Metadata == nil ||
			doc.Metadata.Component == nil || doc.Metadata.Component.Version != want {
			t.Errorf("node-primal's SBOM does not describe the precache of the app's lockfile (%s): %+v", want, doc.Metadata)
		}
	}
	lockSHA := sha256File(t, filepath.Join(repoRoot(t), "example/app/package-lock.json"))
	ph.run("check the target", func() { checkPrimal(t, tgt, nodeNew, lockSHA) })
	if !strings.Contains(out, "node-primal:   fingerprint: "+readManifest(t, tgt).Fingerprint.Value+" (recipe 1, architecture x86_64, node tarball/"+nodeNew+", ") {
		t.Error("the summary does not show the manifest's fingerprint")
	}
	ph.run("node-fingerprint and node-ami on the host, against a fake EC2", func() {
		checkFingerprintLookup(t, readManifest(t, tgt), mirror.URL)
	})
	before := tgt.MustRun(t, snapshot)

	ph.run("second packer build (rerun)", func() {
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("second packer build failed: %v", err)
		}
	})
	for _, want := range []string{
		"node exists (uid ",
		"already installed: git make g++ graphicsmagick curl",
		"Node.js v" + nodeNew + " is already installed",
		"(hit: package-lock.json (sha256 ",
		"): nothing to install: done in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the rerun's output lacks %q", want)
		}
	}
	ph.run("check the target again", func() { checkPrimal(t, tgt, nodeNew, lockSHA) })

	// Credentials inside a proxy URL appear nowhere: not in the output, not
	// in Packer's debug log (which records the communicator's command
	// lines). The variable comes from the environment, as a CI secret would.
	ph.run("packer build with proxy credentials, PACKER_LOG=1", func() {
		const marker = "pr0xyS3CRETmarker"
		var noProxy []string
		for i := 0; i < len(args); i++ {
			if args[i] == "-var" && strings.HasPrefix(args[i+1], "https_proxy=") {
				i++
				continue
			}
			noProxy = append(noProxy, args[i])
		}
		withCreds := strings.Replace(tgt.ProxyURL, "://", "://nodebake:"+marker+"@", 1)
		out, err := runPackerEnv(t, []string{"PACKER_LOG=1", "PKR_VAR_https_proxy=" + withCreds}, noProxy...)
		if err != nil {
			t.Fatalf("packer build with proxy credentials failed: %v", err)
		}
		if !strings.Contains(out, "[DEBUG]") || !strings.Contains(out, "): nothing to install") {
			t.Fatalf("the build did not run with the debug log")
		}
		if n := strings.Count(out, marker); n != 0 {
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, marker) {
					t.Errorf("the proxy's password shows in: %s", line)
				}
			}
		}
	})
	if after := tgt.MustRun(t, snapshot); after != before {
		t.Errorf("the rerun changed the machine:\n--- before\n%s\n--- after\n%s", before, after)
	}

	// Cloud images hold the dpkg lock at first boot: the build must wait.
	ph.run("third packer build, dpkg lock held for 12s", func() {
		tgt.MustRun(t, holdDpkgLock)
		var err error
		if out, err = runPacker(t, args...); err != nil {
			t.Fatalf("packer build with the dpkg lock held failed: %v", err)
		}
	})
	for _, want := range []string{"waiting for the dpkg lock (/var/lib/dpkg/lock-frontend)", "dpkg lock is free"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q: the lock was not waited for", want)
		}
	}
	if after := tgt.MustRun(t, snapshot); after != before {
		t.Errorf("the third run changed the machine:\n--- before\n%s\n--- after\n%s", before, after)
	}

	// Without a lockfile: npm install --omit=dev, and the manifest says so.
	// From a registry stand-in that signs its packages, with an npm token:
	// npm audit signatures verifies what was installed, with the install's
	// registry and token (signing_registry_test.go).
	signing := startSigningRegistry(t, tgt.HostIP, "")
	tuf := trustTUFStandIn(t, tgt, "node")
	ph.run("packer build, precache without a lockfile, from a signing registry", func() {
		nolock := t.TempDir()
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "example/app/package.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(nolock, "package.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err = runPacker(t, primalArgs(t, tgt, mirror, "-var", "node_version=22",
			"-var", "package_json="+filepath.Join(nolock, "package.json"),
			"-var", "npm_registry="+signing.URL, "-var", "npm_token="+signing.Token,
			"-var", "no_proxy="+tgt.HostIP+","+tuf.Host)...); err != nil {
			t.Fatalf("packer build without a lockfile failed: %v", err)
		}
	})
	checkVerifiedSignatures(t, out, signing)
	if !strings.Contains(out, "no lockfile: npm install resolves versions now") {
		t.Error("the build without a lockfile did not use npm install")
	}
	if !strings.Contains(out, "] precache production dependencies in /home/node/app/precache (miss: precache.lockfile_sha256: image ") {
		t.Error("the build without a lockfile did not name the lockfile as what changed")
	}
	if m := readManifest(t, tgt); m.Precache == nil || m.Precache.Lockfile != "" || m.Precache.LockfileSHA256 != "" || len(m.Precache.PackageJSONSHA256) != 64 {
		t.Errorf("manifest without a lockfile = %+v; want no lockfile and package.json's sha256", m.Precache)
	}
	expectOn(t, tgt, "test -d /home/node/app/precache/node_modules/express && echo yes", "yes")

	// A release whose archive does not match the (validly signed)
	// SHASUMS256.txt fails the build cleanly, showing both sums, and leaves
	// the installed Node.js alone.
	ph.run("packer build, wrong checksum", func() {
		bad := nodemirror.Serve(t, dir, tgt.HostIP+":0", nodemirror.CorruptChecksum(nodeOld))
		var err error
		out, err = runPacker(t, primalArgs(t, tgt, bad, "-var", "node_version="+nodeOld)...)
		if err == nil {
			t.Fatal("the build with a wrong checksum succeeded")
		}
	})
	for _, want := range []string{
		`step "install Node.js v` + nodeOld,
		"checksum mismatch for " + mirror.URL[:strings.LastIndex(mirror.URL, ":")],
		"expected (SHASUMS256.txt signed by ",
		"downloaded file: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the failed build's output lacks %q", want)
		}
	}
	expectOn(t, tgt, "node --version", "v"+nodeNew)
	expectOn(t, tgt, "ls /usr/local/lib/nodejs", "current\nnode-v"+nodeNew+"-linux-x64")

	// Signatures that do not verify fail the build before any archive is
	// downloaded, naming the file and the key, and leave Node.js alone: a
	// mirror whose SHASUMS256.txt.asc was altered after signing, and one
	// signed by a key the build does not trust (the good mirror's is).
	ph.run("packer build, tampered SHASUMS256.txt.asc", func() {
		bad := nodemirror.Serve(t, dir, tgt.HostIP+":0", nodemirror.BadSignature(nodeOld))
		var err error
		out, err = runPacker(t, primalArgs(t, tgt, bad, "-var", "node_version="+nodeOld)...)
		if err == nil {
			t.Fatal("the build with a tampered SHASUMS256.txt.asc succeeded")
		}
		for _, want := range []string{
			`step "install Node.js v` + nodeOld,
			"BAD signature: SHASUMS256.txt.asc (" + bad.URL + "/v" + nodeOld + "/SHASUMS256.txt.asc) was signed by key " + bad.Key.KeyID(),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed build's output lacks %q", want)
			}
		}
		if n := bad.Requests(nodemirror.ArchivePath(nodeOld)); n != 0 {
			t.Errorf("the archive was downloaded %d times despite the bad signature", n)
		}
	})
	ph.run("packer build, SHASUMS256.txt.asc signed by an unknown key", func() {
		stranger := nodemirror.Serve(t, dir, tgt.HostIP+":0")
		var err error
		out, err = runPacker(t, primalArgsKey(t, tgt, stranger.URL, mirror.Key.PublicKey, "-var", "node_version="+nodeOld)...)
		if err == nil {
			t.Fatal("the build with a signature by an unknown key succeeded")
		}
		for _, want := range []string{
			"SHASUMS256.txt.asc (" + stranger.URL + "/v" + nodeOld + "/SHASUMS256.txt.asc) is signed by key " + stranger.Key.KeyID() +
				" (fingerprint " + stranger.Key.Fingerprint + "), which is not a Node.js release key nor in node_release_keys",
			"add that key (its armored public key file) to node_release_keys",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed build's output lacks %q", want)
			}
		}
		if n := stranger.Requests(nodemirror.ArchivePath(nodeOld)); n != 0 {
			t.Errorf("the archive was downloaded %d times despite the unknown key", n)
		}
	})
	expectOn(t, tgt, "node --version", "v"+nodeNew)
	expectOn(t, tgt, "ls /usr/local/lib/nodejs", "current\nnode-v"+nodeNew+"-linux-x64")
	// The keyring the last build installed: the Node.js release keys and the key it was given.
	expectOn(t, tgt, "sha256sum "+nodejs.KeyringPath+" | cut -d' ' -f1", keyringSHA(t, mirror))
}

// checkFingerprintLookup proves node-fingerprint agrees with node-primal:
// given the settings of the build that wrote m (node_version "22" through
// the mirror at mirrorURL, the example app, the default packages), it
// computes m's fingerprint, and node-ami finds the image tagged with it
// among others. One setting changed (a package more): another fingerprint,
// no image, and an error that names the part that differs.
func checkFingerprintLookup(t *testing.T, m *precache.Manifest, mirrorURL string) {
	t.Run("fingerprint lookup", func(t *testing.T) {
		if m.Fingerprint == nil {
			t.Fatal("the manifest holds no fingerprint")
		}
		fp := m.Fingerprint
		if fp.Parts["node"] != "tarball/"+nodeNew || fp.Parts["architecture"] != "x86_64" ||
			fp.Parts["dependencies"] != "package-lock.json:"+sha256File(t, filepath.Join(repoRoot(t), "example/app/package-lock.json")) {
			t.Errorf("the manifest's fingerprint parts = %v", fp.Parts)
		}
		requireAmazonPlugin(t) // node-ami's credentials come from the same isolation
		fake := newFakeEC2(t)
		isolateAWSForPacker(t, fake.URL())
		older := ec2Image{ID: "ami-0f1ngerprint0ld", Name: "ponyfoo-primal 1700000000", Created: "2023-11-14T22:13:20.000Z", Tags: fp.Tags()}
		// The newest image was made for another lockfile.
		otherParts := map[string]string{}
		for k, v := range fp.Parts {
			otherParts[fingerprint.PartTagPrefix+k] = v
		}
		otherParts[fingerprint.PartTagPrefix+"dependencies"] = "package-lock.json:" + strings.Repeat("0", 64)
		otherParts[fingerprint.TagKey] = strings.Repeat("1", 64)
		newer := ec2Image{ID: "ami-0neweroth3rl0ck", Name: "ponyfoo-primal 1800000000", Created: "2027-01-15T08:00:00.000Z", Tags: otherParts}
		fake.reset([]ec2Image{older, newer})

		lookup := "test/e2e/testdata/fingerprint.pkr.hcl"
		out, err := runPacker(t, "build", "-var", "node_version=22", "-var", "node_mirror="+mirrorURL, lookup)
		if err != nil {
			t.Fatalf("the look-up failed: %v", err)
		}
		if want := "lookup: fingerprint=" + fp.Value + " node=" + nodeNew + " ami=" + older.ID; !strings.Contains(out, want) {
			t.Errorf("the look-up's output lacks %q", want)
		}

		out, err = runPacker(t, "build", "-var", "node_version=22", "-var", "node_mirror="+mirrorURL, "-var", `extra_packages=["jq"]`, lookup)
		if err == nil {
			t.Fatal("the look-up with a package more found an image")
		}
		for _, want := range []string{
			"node-ami: no available image with fingerprint ",
			"the newest image without that filter is " + newer.ID,
			"it differs in packages (image \"" + fp.Parts["packages"],
			"dependencies (image \"package-lock.json:0000",
			"Build a primal image for this fingerprint",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed look-up's output lacks %q", want)
			}
		}
		if strings.Contains(out, "node (image") {
			t.Error("the failed look-up names the node part, which is the same")
		}
	})
}

// keyringSHA is the SHA-256 of the keyring a build trusting m's key
// installs: the Node.js release keys and m's.
func keyringSHA(t *testing.T, m *nodemirror.Mirror) string {
	t.Helper()
	b, err := os.ReadFile(m.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := releasekeys.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(releasekeys.Keyring(releasekeys.Merge(releasekeys.NodeJS(), keys)))
	return hex.EncodeToString(sum[:])
}

// TestPrimalDistroIptables covers the other installer and firewall backend
// that run here: Debian's nodejs and npm, the redirect saved by
// iptables-persistent; and the original recipe's layout, instance_user =
// "admin", for which no account is made.
func TestPrimalDistroIptables(t *testing.T) {
	ph := newPhases(t)
	var tgt *sandbox.Target
	ph.run("create sandbox target", func() { tgt = sandbox.New(t) })
	args := primalArgsKey(t, tgt, "https://nodejs.invalid/dist", "", "-var", "node_installer=distro",
		"-var", "firewall_backend=iptables", "-var", "package_json=", "-var", "instance_user=admin")
	for i := 1; i <= 2; i++ {
		ph.run("packer build", func() {
			if _, err := runPacker(t, args...); err != nil {
				t.Fatalf("packer build %d (distro, iptables) failed: %v", i, err)
			}
		})
	}
	expectOn(t, tgt, "dpkg-query -W -f '${Status}' nodejs", "install ok installed")
	expectOn(t, tgt, "env -i /bin/sh -c 'node -e \"console.log(process.version.startsWith(String.fromCharCode(118)))\"'", "true")
	expectOn(t, tgt, "readlink /usr/local/bin/node", "/usr/bin/node")
	expectOn(t, tgt, "iptables -t nat -S | grep -c 'NODE_PRIMAL_PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 -j REDIRECT --to-ports 8080'", "1")
	expectOn(t, tgt, "iptables -t nat -S PREROUTING | grep -c 'NODE_PRIMAL'", "1")
	expectOn(t, tgt, "grep -c 'REDIRECT --to-ports 8080' /etc/iptables/rules.v4", "2")
	expectOn(t, tgt, "systemctl is-enabled netfilter-persistent", "enabled")
	checkRedirect(t, tgt, "admin")
	if m := readManifest(t, tgt); m.InstanceUser != "admin" {
		t.Errorf("manifest instance_user = %q; want admin", m.InstanceUser)
	}
	expectOn(t, tgt, "id node >/dev/null 2>&1 || echo 'no node account'", "no node account")
}

// readManifest reads node-primal's manifest on the target.
func readManifest(t *testing.T, tgt *sandbox.Target) *precache.Manifest {
	t.Helper()
	m, err := precache.ParseManifest([]byte(tgt.MustRun(t, "cat "+precache.ManifestPath)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func expectOn(t *testing.T, tgt *sandbox.Target, cmd, want string) {
	t.Helper()
	got, err := tgt.Run(cmd)
	if err != nil {
		t.Errorf("%s: %v\n%s", cmd, err, got)
		return
	}
	if strings.TrimSpace(got) != want {
		t.Errorf("%s = %q; want %q", cmd, strings.TrimSpace(got), want)
	}
}

// checkPrimal checks, on the target, what node-primal promises.
func checkPrimal(t *testing.T, tgt *sandbox.Target, node, lockSHA string) {
	t.Helper()
	for _, p := range []string{"git", "make", "g++", "graphicsmagick", "curl", "nginx"} {
		expectOn(t, tgt, "dpkg-query -W -f '${Status}' "+p, "install ok installed")
	}
	expectOn(t, tgt, "systemctl is-enabled nginx", "enabled")
	expectOn(t, tgt, "systemctl is-active nginx", "active")
	expectOn(t, tgt, "grep -c '^net.ipv4.tcp_slow_start_after_idle = 0$' /etc/sysctl.d/60-node-primal.conf", "1")
	// The redirect needs no forwarding: ip_forward is not persisted by default.
	expectOn(t, tgt, "grep -c 'ip_forward' /etc/sysctl.d/60-node-primal.conf || true", "0")
	expectOn(t, tgt, "sysctl -n net.ipv4.tcp_slow_start_after_idle", "0")
	// The log directory stays root's (CVE-2016-1247), readable by adm.
	expectOn(t, tgt, "stat -c '%U:%G %a' /var/log/nginx", "root:adm 755")
	expectOn(t, tgt, "find /var/log/nginx -user node | wc -l", "0")
	expectOn(t, tgt, "ls -d /tmp/packer-node.* /dev/shm/packer-node.* /run/node-primal/npmrc 2>/dev/null | wc -l", "0")

	// Node.js for every user, in non-interactive shells with no profile,
	// and in services, through one absolute path.
	expectOn(t, tgt, "env -i /bin/sh -c 'node --version'", "v"+node)
	if got, err := tgt.RunAs(sandbox.AdminUser, "node --version && npm --version >/dev/null && echo ok"); err != nil || got != "v"+node+"\nok\n" {
		t.Errorf("node/npm as admin over ssh = %q, %v", got, err)
	}
	expectOn(t, tgt, "systemd-run --quiet --wait --pipe --uid=node /usr/local/bin/node -p process.version", "v"+node)

	checkAppAccount(t, tgt)

	// The redirect, persisted for nftables.service.
	expectOn(t, tgt, "systemctl is-enabled nftables", "enabled")
	expectOn(t, tgt, `grep -cxF 'include "/etc/nftables.d/*.nft"' /etc/nftables.conf`, "1")
	expectOn(t, tgt, "nft list table ip node_primal | grep -c 'tcp dport 80 redirect to :8080'", "2")
	// Only traffic for this machine is redirected, not what it routes.
	expectOn(t, tgt, "nft list chain ip node_primal prerouting | grep -c 'fib daddr type local tcp dport 80 redirect to :8080'", "1")
	expectOn(t, tgt, "nft list tables | grep -c node_primal", "1")
	checkRedirect(t, tgt, "node")

	// The precache and the manifest, read with the type node-carnivore reads it with.
	m := readManifest(t, tgt)
	if m.Precache == nil || m.Precache.Lockfile != "package-lock.json" || m.Precache.LockfileSHA256 != lockSHA ||
		m.Precache.Dir != "/home/node/app/precache" || m.NodeVersion != "v"+node || m.NpmVersion == "" || m.Created == "" ||
		m.PluginVersion == "" || m.InstanceUser != "node" || m.PublicPort != 80 || m.NginxPort != 8080 {
		t.Errorf("manifest = %+v (precache %+v); want lockfile_sha256 %s, node v%s, node, 80 and 8080", m, m.Precache, lockSHA, node)
	}
	expectOn(t, tgt, "stat -c '%U %a' "+precache.ManifestPath, "root 644")
	expectOn(t, tgt, "test -f /home/node/app/precache/node_modules/express/package.json && echo yes", "yes")
	expectOn(t, tgt, "test -e /home/node/app/precache/node_modules/left-pad || echo 'no dev dependencies'", "no dev dependencies")
	expectOn(t, tgt, "find /home/node/app ! -user node | wc -l", "0")
}

// checkAppAccount checks the account the app runs as is the system account
// node-primal made, and that it can do nothing a login user can: no
// password, no login shell, no group but its own, no sudo.
func checkAppAccount(t *testing.T, tgt *sandbox.Target) {
	t.Helper()
	// nologin where the system has it, false where not (Debian 13's
	// minimal systems).
	expectOn(t, tgt, "getent passwd node | cut -d: -f6", "/home/node")
	expectOn(t, tgt, "s=$(getent passwd node | cut -d: -f7); if [ -x /usr/sbin/nologin ]; then [ $s = /usr/sbin/nologin ]; else [ $s = /bin/false ]; fi && echo right", "right")
	expectOn(t, tgt, "test $(id -u node) -lt 1000 && echo system", "system") // SYS_UID_MAX
	expectOn(t, tgt, "id -nG node", "node")
	expectOn(t, tgt, "passwd -S node | cut -d' ' -f2", "L")
	expectOn(t, tgt, "sudo -l -U node | tail -n 1", "User node is not allowed to run sudo on "+tgt.Name+".")
	expectOn(t, tgt, "stat -c '%U %a' /home/node", "node 711")
	// Even root's su gets no shell for it.
	if out, err := tgt.Run("su node -c 'echo logged in' </dev/null 2>&1"); err == nil || strings.Contains(out, "logged in") {
		t.Errorf("su node: %q, %v; want a refusal", out, err)
	}
}

// checkRedirect serves something on 8080 as the unprivileged user and
// fetches it through port 80 on the target.
func checkRedirect(t *testing.T, tgt *sandbox.Target, user string) {
	t.Helper()
	tgt.MustRun(t, `systemd-run --quiet --unit=e2e-listener --uid=`+user+` /usr/local/bin/node -e '
require("http").createServer((q, s) => s.end("through the redirect\n")).listen(8080, "0.0.0.0")'
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1`)
	defer tgt.Run("systemctl stop e2e-listener")
	expectOn(t, tgt, "curl -s http://127.0.0.1:80/", "through the redirect")
}

// snapshot is the state a rerun must leave exactly as it was: which files
// exist, what they hold, owners, rules, enabled units, installed packages.
const snapshot = `set -e
ls -1 /etc/sysctl.d /etc/nginx/sites-enabled /etc/nftables.d /tmp /usr/local/bin /usr/local/lib/nodejs
sha256sum /etc/sysctl.d/60-node-primal.conf /etc/nftables.conf /etc/environment /etc/node-primal/manifest.json
sort /etc/sysctl.d/60-node-primal.conf | uniq -d
nft list ruleset
find /etc/systemd/system /etc/rc*.d -name '*nginx*' -o -name '*nftables*' | sort
stat -c '%n %U %G %a' /var/log/nginx /var/log/nginx/* /home/node/app /home/node/app/precache
ls /home/node/app/precache/node_modules | sha256sum
dpkg-query -W -f '${Package} ${Version} ${Status}\n' | sha256sum
ls -1 /var/lib/dpkg/updates /usr/local/share/ca-certificates/node-primal
`

// holdDpkgLock takes dpkg's fcntl lock the way dpkg itself does, from a
// transient service that lets go after 12 seconds.
const holdDpkgLock = `systemd-run --unit=hold-dpkg-lock --collect perl -MFcntl -e '
open(my $f, ">>", "/var/lib/dpkg/lock-frontend") or die "open: $!";
my $lock = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);  # struct flock, x86_64
fcntl($f, F_SETLKW, $lock) or die "lock: $!";
sleep 12;'
id=$(printf '%02x:%02x:%s' $(stat -c '%Hd %Ld %i' /var/lib/dpkg/lock-frontend))
for i in $(seq 50); do
  grep -q " $id " /proc/locks && exit 0
  sleep 0.1
done
echo "the lock holder did not take the lock" >&2
exit 1
`
