package core

import (
	"fmt"
	"strings"
)

// Distro is the machine's distribution and release, from /etc/os-release.
type Distro struct {
	ID       string // "debian", "ubuntu"
	Version  string // VERSION_ID: "12", "24.04"
	Codename string // VERSION_CODENAME: "bookworm", "noble"
	Name     string // PRETTY_NAME, for messages
}

// Supported are the releases the plugin's steps are written for. Debian 12
// is booted and tested here; the others are covered by golden plans of
// their differences (see the README's support table).
var Supported = []Distro{
	{ID: "debian", Version: "12", Codename: "bookworm"},
	{ID: "debian", Version: "13", Codename: "trixie"},
	{ID: "ubuntu", Version: "22.04", Codename: "jammy"},
	{ID: "ubuntu", Version: "24.04", Codename: "noble"},
}

// String is "debian 12".
func (d Distro) String() string { return d.ID + " " + d.Version }

// Ubuntu says the machine runs Ubuntu, whose apt needs needrestart told not
// to prompt and whose graphicsmagick and iptables-persistent are in the
// universe component.
func (d Distro) Ubuntu() bool { return d.ID == "ubuntu" }

// Check refuses a release the plugin is not written for, naming it and the
// supported ones, before any step runs.
func (d Distro) Check() error {
	for _, s := range Supported {
		if s.ID == d.ID && s.Version == d.Version {
			return nil
		}
	}
	var names []string
	for _, s := range Supported {
		names = append(names, s.String()+" ("+s.Codename+")")
	}
	what := d.Name
	if what == "" {
		what = "an unknown distribution (no /etc/os-release)"
	} else {
		what = fmt.Sprintf("%s (ID=%s VERSION_ID=%s)", d.Name, d.ID, d.Version)
	}
	return fmt.Errorf("this machine runs %s; node-primal and node-carnivore support %s", what, strings.Join(names, ", "))
}
