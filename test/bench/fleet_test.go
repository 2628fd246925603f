//go:build bench

package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/nodemirror"
	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

const fleetSize = 4

// benchFleet: one packer build of four sandbox sources, node-primal
// then node-carnivore on each, all in parallel (Packer's default), against
// the same on four other fresh targets one after another
// (-parallel-builds=1). Every build must succeed and each target must hold
// its own result, with nothing left in the staging directories.
func benchFleet(t *testing.T) {
	mirror := nodemirror.Build(t, nodemirror.Node22)
	run := func(parallel bool) time.Duration {
		var tgts []*sandbox.Target
		vars := map[string]map[string]string{"hosts": {}, "keys": {}, "mirrors": {}, "node_release_keys": {}, "proxies": {}, "no_proxies": {}}
		for i := 0; i < fleetSize; i++ {
			tgt := sandbox.New(t)
			m := nodemirror.Serve(t, mirror, tgt.HostIP+":0")
			name := fmt.Sprintf("t%d", i)
			vars["hosts"][name], vars["keys"][name], vars["mirrors"][name] = tgt.IP, tgt.KeyPath, m.URL
			vars["proxies"][name], vars["no_proxies"][name] = tgt.ProxyURL, tgt.HostIP
			vars["node_release_keys"][name] = m.Key.PublicKey
			tgts = append(tgts, tgt)
		}
		args := []string{"build"}
		if !parallel {
			args = append(args, "-parallel-builds=1")
		}
		for k, v := range vars {
			b, _ := json.Marshal(v)
			args = append(args, "-var", k+"="+string(b))
		}
		args = append(args, "-var", "node_version="+nodemirror.Node22, "test/bench/testdata/fleet.pkr.hcl")
		out, d := packer(t, args...)
		for i, tgt := range tgts {
			name := fmt.Sprintf("t%d", i)
			for _, want := range []string{"null." + name + ": node-primal: ", "null." + name + ": node-carnivore: "} {
				if !strings.Contains(out, want+"") || !strings.Contains(out, "Build 'null."+name+"' finished") {
					t.Fatalf("build %s did not finish:\n%s", name, out)
				}
			}
			// Its own app answers through port 80, and no staging
			// directory is left behind.
			got := tgt.MustRun(t, "curl -fsS http://127.0.0.1/healthz >/dev/null && echo ok; ls -d /dev/shm/packer-node.* /tmp/packer-node.* 2>/dev/null | wc -l; hostname")
			if f := strings.Fields(got); len(f) != 3 || f[0] != "ok" || f[1] != "0" || f[2] != tgt.Name {
				t.Fatalf("%s (%s): %q", name, tgt.Name, got)
			}
		}
		for _, tgt := range tgts {
			tgt.Destroy()
		}
		return d
	}
	par := run(true)
	seq := run(false)
	record("fleet", fmt.Sprintf("%d sources in one packer build (primal + carnivore each): parallel vs one after another", fleetSize),
		secs(par)+" vs "+secs(seq), fmt.Sprintf("parallel / sequential = **%s**; all %d succeeded both ways, each target held its own app, no staging dir left", ratio(par, seq), fleetSize))
}
