// Package firewall persists the port redirect that lets the app's nginx
// listen on an unprivileged port while clients use the public one (the
// seed's "forward port 80 to 8080"). The rule is persisted the way Debian
// expects for the image's firewall backend, not by an if-up.d hook:
//
//   - nftables: a table in /etc/nftables.d/, included by /etc/nftables.conf,
//     loaded at boot by nftables.service;
//   - iptables: rules saved by netfilter-persistent (iptables-persistent) to
//     /etc/iptables/rules.v4.
//
// Both are written so a rerun replaces the rule instead of adding a copy.
package firewall

import (
	"embed"
	"fmt"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh scripts/*.nft
var scripts embed.FS

// Backends are the values firewall_backend accepts. "auto" uses iptables
// where the image runs the legacy iptables backend and nftables otherwise
// (Debian's default since buster; iptables-nft rules live there too).
var Backends = []string{"auto", "nftables", "iptables"}

// NftFile is the nftables table node-primal writes.
const NftFile = "/etc/nftables.d/node-primal.nft"

// Table is the nftables table (and iptables chain prefix) of the redirect.
const Table = "node_primal"

type redirect struct {
	Backend      string
	From, To     int
	LockSeconds  int
	NftFile      string
	Table, Chain string
}

// Redirect persists and applies a redirect of TCP port from to port to, for
// traffic arriving from the network and for local traffic to loopback (so a
// health check on the machine itself takes the same path as clients). A
// missing firewall package is installed, waiting up to lock for the dpkg lock.
func Redirect(backend string, from, to int, lock time.Duration) plan.Step {
	r := redirect{Backend: backend, From: from, To: to, LockSeconds: int(lock.Round(time.Second) / time.Second),
		NftFile: NftFile, Table: Table, Chain: "NODE_PRIMAL"}
	step := plan.Step{
		Name:   fmt.Sprintf("redirect port %d to %d (%s, persisted)", from, to, backend),
		Script: shell.MustRender(scripts, "scripts/redirect.sh", r),
	}
	if backend != "iptables" {
		step.Files = []plan.File{{Path: NftFile, Mode: 0o644, Content: []byte(shell.MustRender(scripts, "scripts/redirect.nft", r))}}
	}
	return step
}
