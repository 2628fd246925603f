//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

// TestTrixieOnSandbox runs the pair on Debian 13 (trixie), the current
// stable, booted from the host's own mirror: node-primal then
// node-carnivore with the example templates, then the checks both make on
// bookworm. trixie differs where it matters here: /tmp is a tmpfs, apt 3,
// newer nginx and systemd.
func TestTrixieOnSandbox(t *testing.T) {
	ph := newPhases(t)
	var dir string
	ph.run("build the Node.js mirror", func() { dir = nodemirror.Build(t, nodeNew) })
	var tgt *sandbox.Target
	ph.run("create trixie sandbox target", func() { tgt = sandbox.NewSuite(t, "trixie") })
	expectOn(t, tgt, ". /etc/os-release && echo $VERSION_CODENAME $VERSION_ID", "trixie 13")
	mirror := nodemirror.Serve(t, dir, tgt.HostIP+":0")
	ph.run("primal packer build", func() {
		if out, err := runPacker(t, primalArgs(t, tgt, mirror, "-var", "node_version="+nodeNew)...); err != nil {
			t.Fatalf("primal build on trixie failed: %v\n%s", err, out)
		}
	})
	lockSHA := sha256File(t, filepath.Join(repoRoot(t), "example/app/package-lock.json"))
	ph.run("check the primal target", func() { checkPrimal(t, tgt, nodeNew, lockSHA) })
	ph.run("carnivore packer build", func() {
		if out, err := runPacker(t, carnivoreArgs(tgt)...); err != nil {
			t.Fatalf("carnivore build on trixie failed: %v\n%s", err, out)
		}
	})
	ph.run("check the carnivore target", func() { checkCarnivore(t, tgt) })
}
