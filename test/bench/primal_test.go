//go:build bench

package bench

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

var recipeStepRE = regexp.MustCompile(`(?m)recipe-step: (.*): ([0-9.]+)\s*$`)

// benchPrimal: node-primal against the article's recipe as one plain
// shell script (testdata/recipe.sh, Packer's shell provisioner), same
// inputs, each on a fresh target, in the same run. node-primal goes first,
// so whatever the mirror or the proxy cache warm up favours the recipe.
func benchPrimal(t *testing.T) {
	mirror := nodemirror.Build(t, nodemirror.Node22)
	ours, theirs := sandbox.New(t), sandbox.New(t)
	mOurs := nodemirror.Serve(t, mirror, ours.HostIP+":0")
	mTheirs := nodemirror.Serve(t, mirror, theirs.HostIP+":0")

	outOurs, tOurs := primal(t, ours, mOurs)
	nodeURL := fmt.Sprintf("%s/v%s/node-v%s-linux-x64.tar.xz", mTheirs.URL, nodemirror.Node22, nodemirror.Node22)
	outTheirs, tTheirs := packer(t, append(append([]string{"build"}, common(theirs, direct(theirs))...),
		"-var", "node_url="+nodeURL, "-var", "no_proxy="+theirs.HostIP, "test/bench/testdata/recipe.pkr.hcl")...)

	// Both did the job: node, the precache, nginx enabled, the redirect.
	for _, c := range []struct {
		tgt   *sandbox.Target
		check string
	}{
		{ours, "node --version && ls /home/node/app/precache/node_modules | wc -l && systemctl is-enabled nginx && nft list ruleset | grep -c 'redirect to :8080'"},
		{theirs, "node --version && ls /home/admin/app/precache/node_modules | wc -l && systemctl is-enabled nginx && iptables -t nat -S | grep -c 'REDIRECT --to-ports 8080'"},
	} {
		out := c.tgt.MustRun(t, c.check)
		if f := strings.Fields(out); len(f) < 4 || f[0] != "v"+nodemirror.Node22 || f[1] == "0" || f[2] != "enabled" || f[3] == "0" {
			t.Fatalf("%s: the build did not do its job: %q", c.tgt.Name, out)
		}
	}
	if out := ours.MustRun(t, "ls /etc/dpkg/dpkg.cfg.d/; ls /var/lib/node-primal 2>&1 || true"); strings.Contains(out, "node-primal-unsafe-io") || strings.Contains(out, "dpkg-speedup") {
		t.Fatalf("node-primal left its dpkg speed-up behind:\n%s", out)
	}

	record("primal", "hand-written recipe (article's steps, shell provisioner)", secs(tTheirs), "packer build wall time, fresh target")
	record("primal", "node-primal, same inputs", secs(tOurs),
		fmt.Sprintf("node-primal / recipe = **%s** (goal ≤ 0.70×)", ratio(tOurs, tTheirs)))

	var b strings.Builder
	b.WriteString("### node-primal vs the recipe, per step (seconds)\n\n")
	b.WriteString("| recipe step | s | node-primal step | s |\n|---|---|---|---|\n")
	theirSteps := recipeStepRE.FindAllStringSubmatch(outTheirs, -1)
	ourSteps := steps(outOurs)
	for i := 0; i < max(len(theirSteps), len(ourSteps)); i++ {
		var a, as, o, ds string
		if i < len(theirSteps) {
			a, as = theirSteps[i][1], theirSteps[i][2]
		}
		if i < len(ourSteps) {
			o, ds = ourSteps[i].Name, fmt.Sprintf("%.1f", ourSteps[i].D.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", a, as, strings.ReplaceAll(o, "|", "/"), ds)
	}
	fmt.Fprintf(&b, "| **packer build, wall** | **%.1f** | **packer build, wall** | **%.1f** |\n", tTheirs.Seconds(), tOurs.Seconds())
	var sum time.Duration
	for _, s := range ourSteps {
		sum += s.D
	}
	fmt.Fprintf(&b, "\nnode-primal's steps add up to %s; the rest of its wall time is Packer's start, the SSH connection, "+
		"reading the machine's facts and the mirror's index, and the summary.\n", secs(sum))
	detail(b.String())
}
