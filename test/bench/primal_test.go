//go:build bench

package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

var recipeStepRE = regexp.MustCompile(`(?m)recipe-step: (.*): ([0-9.]+)\s*$`)

// primalPairs is how many times each side runs: one pair differs from
// the next by ±15% on a shared 2-core machine, so the table shows medians.
const primalPairs = 3

// benchPrimal: node-primal against the article's recipe as one plain
// shell script (testdata/recipe.sh, Packer's shell provisioner), same
// inputs, each on a fresh target, in the same run: primalPairs pairs,
// which side goes first alternating, so that neither gets the mirror's or
// the proxy's warm caches each time; medians, with every sample shown.
func benchPrimal(t *testing.T) {
	mirror := nodemirror.Build(t, nodemirror.Node22)
	var oursD, theirsD []time.Duration
	var oursSteps, theirsSteps [][]step
	for i := 0; i < primalPairs; i++ {
		ours, theirs := sandbox.New(t), sandbox.New(t)
		mOurs := nodemirror.Serve(t, mirror, ours.HostIP+":0")
		mTheirs := nodemirror.Serve(t, mirror, theirs.HostIP+":0")
		runOurs := func() {
			out, d := primal(t, ours, mOurs)
			oursD, oursSteps = append(oursD, d), append(oursSteps, steps(out))
		}
		runTheirs := func() {
			nodeURL := fmt.Sprintf("%s/v%s/node-v%s-linux-x64.tar.xz", mTheirs.URL, nodemirror.Node22, nodemirror.Node22)
			out, d := packer(t, append(append([]string{"build"}, common(theirs, direct(theirs))...),
				"-var", "node_url="+nodeURL, "-var", "no_proxy="+theirs.HostIP, "test/bench/testdata/recipe.pkr.hcl")...)
			var ss []step
			for _, m := range recipeStepRE.FindAllStringSubmatch(out, -1) {
				f, _ := strconv.ParseFloat(m[2], 64)
				ss = append(ss, step{m[1], time.Duration(f * float64(time.Second))})
			}
			theirsD, theirsSteps = append(theirsD, d), append(theirsSteps, ss)
		}
		if i%2 == 0 {
			runOurs()
			runTheirs()
		} else {
			runTheirs()
			runOurs()
		}
		checkPrimalJob(t, ours, theirs)
		ours.Destroy()
		theirs.Destroy()
	}
	tOurs, tTheirs := medianOf(oursD), medianOf(theirsD)
	record("primal", fmt.Sprintf("hand-written recipe (article's steps, shell provisioner), median of %d", primalPairs), secs(tTheirs),
		"packer build wall time, fresh target; samples "+samples(theirsD))
	record("primal", fmt.Sprintf("node-primal, same inputs, median of %d", primalPairs), secs(tOurs),
		fmt.Sprintf("node-primal / recipe = **%s** (goal ≤ 0.70×); samples %s", ratio(tOurs, tTheirs), samples(oursD)))

	var b strings.Builder
	fmt.Fprintf(&b, "### node-primal vs the recipe, per step (seconds, median of %d)\n\n", primalPairs)
	b.WriteString("| recipe step | s | node-primal step | s |\n|---|---|---|---|\n")
	theirMed, ourMed := stepMedians(theirsSteps), stepMedians(oursSteps)
	for i := 0; i < max(len(theirMed), len(ourMed)); i++ {
		var a, as, o, ds string
		if i < len(theirMed) {
			a, as = theirMed[i].Name, fmt.Sprintf("%.1f", theirMed[i].D.Seconds())
		}
		if i < len(ourMed) {
			o, ds = ourMed[i].Name, fmt.Sprintf("%.1f", ourMed[i].D.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", a, as, strings.ReplaceAll(o, "|", "/"), ds)
	}
	fmt.Fprintf(&b, "| **packer build, wall** | **%.1f** | **packer build, wall** | **%.1f** |\n", tTheirs.Seconds(), tOurs.Seconds())
	var sum time.Duration
	for _, s := range ourMed {
		sum += s.D
	}
	fmt.Fprintf(&b, "\nnode-primal's steps add up to %s; the rest of its wall time is Packer's start, the SSH connection, "+
		"reading the machine's facts and the mirror's index, and the summary.\n", secs(sum))
	detail(b.String())
}

// checkPrimalJob: both builds did the job (node, the precache, nginx
// enabled, the redirect), and node-primal left no dpkg speed-up behind.
func checkPrimalJob(t *testing.T, ours, theirs *sandbox.Target) {
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
}

// medianOf is the median of ds.
func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func samples(ds []time.Duration) string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.1f", d.Seconds()))
	}
	return strings.Join(out, ", ") + " s"
}

// stepMedians is, step by step, the median time over runs of the same
// steps (named as in the first run).
func stepMedians(runs [][]step) []step {
	if len(runs) == 0 {
		return nil
	}
	var out []step
	for i, s := range runs[0] {
		var ds []time.Duration
		for _, r := range runs {
			if i < len(r) {
				ds = append(ds, r[i].D)
			}
		}
		out = append(out, step{s.Name, medianOf(ds)})
	}
	return out
}
