// Package firewall persists the port redirect that lets the app's nginx
// listen on an unprivileged port while clients use the public one (the
// original recipe's "forward port 80 to 8080"). The rule is persisted the
// way Debian expects for the image's firewall backend, not by an if-up.d
// hook:
//
//   - nftables: a table in /etc/nftables.d/, included by /etc/nftables.conf,
//     loaded at boot by nftables.service;
//   - iptables: rules saved by netfilter-persistent (iptables-persistent) to
//     /etc/iptables/rules.v4;
//   - ufw (where ufw is enabled, as Ubuntu users often have it): a block in
//     /etc/ufw/before.rules, loaded by ufw at boot.
//
// Both are written so a rerun replaces the rule instead of adding a copy.
package firewall

import (
	"embed"
	"fmt"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh scripts/*.nft
var scripts embed.FS

// Backends are the values firewall_backend accepts. "auto" is decided
// once, from the machine's facts, by Resolve.
var Backends = []string{"auto", "nftables", "iptables", "ufw"}

// NftFile is the nftables table node-primal writes.
const NftFile = "/etc/nftables.d/node-primal.nft"

// Table is the nftables table (and iptables chain prefix) of the redirect.
const Table = "node_primal"

// Resolve turns backend into the one that will hold the rule: "auto" is
// ufw where ufw is enabled, iptables where the image runs the legacy
// iptables backend (iptablesVersion is the first line of `iptables
// --version`, "" when iptables is absent), and nftables otherwise (Debian's
// default since buster; iptables-nft rules live there too). With ufw
// enabled, the others are refused: nftables.conf's "flush ruleset" would
// wipe ufw's rules at boot, and iptables-persistent conflicts with ufw.
func Resolve(backend, iptablesVersion string, ufw bool) (string, error) {
	switch {
	case backend == "auto" && ufw:
		return "ufw", nil
	case backend == "auto" && strings.Contains(iptablesVersion, "legacy"):
		return "iptables", nil
	case backend == "auto":
		return "nftables", nil
	case ufw && backend != "ufw":
		return "", fmt.Errorf("firewall_backend: %q cannot hold the redirect while ufw is enabled on this machine (%s); use \"auto\" or \"ufw\"", backend, map[string]string{
			"nftables": "nftables.service's flush ruleset at boot would wipe ufw's rules",
			"iptables": "iptables-persistent conflicts with ufw and would remove it",
		}[backend])
	case !ufw && backend == "ufw":
		return "", fmt.Errorf("firewall_backend: \"ufw\" needs ufw enabled on the machine (ENABLED=yes in /etc/ufw/ufw.conf); use \"auto\"")
	}
	return backend, nil
}

// Packages are the Debian packages backend needs, so the build can install
// them in its one apt transaction (Redirect installs them itself when
// missing), and the debconf answers to preseed before: iptables-persistent
// would otherwise save the rules of the moment at install time.
func Packages(backend string) (packages, debconf []string) {
	switch backend {
	case "nftables":
		return []string{"nftables"}, nil
	case "iptables":
		return []string{"iptables", "iptables-persistent"}, []string{
			"iptables-persistent iptables-persistent/autosave_v4 boolean false",
			"iptables-persistent iptables-persistent/autosave_v6 boolean false",
		}
	}
	return nil, nil
}

type redirect struct {
	From, To     int
	NftFile      string
	Table, Chain string
}

// Redirect persists and applies a redirect of TCP port from to port to, with
// backend ("nftables" or "iptables", see Resolve), for traffic arriving from
// the network and for local traffic to loopback (so a health check on the
// machine itself takes the same path as clients). A missing firewall
// package is installed.
func Redirect(backend string, from, to int) plan.Step {
	r := redirect{From: from, To: to, NftFile: NftFile, Table: Table, Chain: "NODE_PRIMAL"}
	step := plan.Step{
		Name:   fmt.Sprintf("redirect :%d → :%d (%s, persisted)", from, to, backend),
		Script: shell.MustRender(scripts, "scripts/"+backend+".sh", r),
	}
	if backend == "nftables" {
		step.Files = []plan.File{{Path: NftFile, Mode: 0o644, Content: []byte(shell.MustRender(scripts, "scripts/redirect.nft", r))}}
	}
	return step
}
