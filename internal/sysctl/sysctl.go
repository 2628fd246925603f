// Package sysctl persists kernel settings the way Debian expects: one file
// under /etc/sysctl.d/ that systemd-sysctl applies at every boot, applied
// now with "sysctl -p FILE". ("sysctl -w" alone is lost at reboot, and
// "sysctl --system" fails on hosts where some keys are read-only.)
package sysctl

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

var (
	keyRE   = regexp.MustCompile(`^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$`)
	valueRE = regexp.MustCompile(`^[A-Za-z0-9_.:/ -]+$`)
)

// ValidKey reports whether key is a sysctl key in dotted form.
func ValidKey(key string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("%q is not a sysctl key (dotted, like net.ipv4.ip_forward)", key)
	}
	return nil
}

// ValidValue reports whether v can be written into a sysctl.d file as is.
func ValidValue(v string) error {
	if !valueRE.MatchString(v) || strings.TrimSpace(v) != v {
		return fmt.Errorf("%q is not a sysctl value (letters, digits, spaces inside, _ . : / -)", v)
	}
	return nil
}

// Persist writes settings (validated by the caller) to path and applies them.
// The file is rewritten whole on every run, so reruns never add lines.
func Persist(path string, settings map[string]string) plan.Step {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by packer-plugin-node (node-primal). Applied at boot by systemd-sysctl.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	return plan.Step{
		Name:   "persist kernel settings in " + path,
		Files:  []plan.File{{Path: path, Mode: 0o644, Content: []byte(b.String())}},
		Script: "sysctl -p " + shell.Quote(path) + "\n",
	}
}
