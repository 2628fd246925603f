// Package apt holds the steps that drive Debian's package manager: waiting
// for the dpkg lock, refreshing the package lists and installing packages.
// Every apt-get call also waits for the lock itself (the prelude's apt_get
// passes DPkg::Lock::Timeout), because cloud images run unattended upgrades
// and cloud-init at first boot.
package apt

import (
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// packageRE is Debian policy's package name grammar (§5.6.1), optionally
// pinned to a version ("nginx=1.22.1-9") or a release ("nginx/bookworm").
var packageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+|/[a-z0-9.-]+)?$`)

// ValidPackage reports whether name is a package name apt-get accepts as a
// single argument; it is an error naming the reason otherwise.
func ValidPackage(name string) error {
	if !packageRE.MatchString(name) {
		return fmt.Errorf("%q is not a Debian package name (lowercase letters, digits, + - . ; optionally =VERSION or /RELEASE)", name)
	}
	return nil
}

// WaitForLock waits up to the prelude's dpkg_lock_timeout for whoever
// holds the dpkg lock (cloud-init, unattended-upgrades, apt-daily) to let
// go, instead of failing.
func WaitForLock() plan.Step {
	return plan.Step{
		Name:   "wait for the dpkg lock",
		Script: shell.MustRender(scripts, "scripts/wait-lock.sh", nil),
	}
}

// Update refreshes the package lists.
func Update() plan.Step {
	return plan.Step{
		Name:   "apt-get update",
		Script: shell.MustRender(scripts, "scripts/update.sh", nil),
	}
}

// Install installs packages that are missing, through the prelude's
// apt_install; installed ones are left alone, so a rerun changes nothing.
// Names must have passed ValidPackage.
func Install(name string, packages []string) plan.Step {
	return InstallPreseeded(name, packages, nil)
}

// InstallPreseeded is Install with debconf answers ("package question type
// value", the plugin's own, never a user's) given first to packages that
// are missing, so one apt transaction can install packages that would ask.
func InstallPreseeded(name string, packages, debconf []string) plan.Step {
	return plan.Step{
		Name: name,
		Script: shell.MustRender(scripts, "scripts/install.sh", struct {
			Packages, Debconf []string
		}{packages, debconf}),
	}
}

// Merge is lists of packages as one, in order, without repeats: a name
// already there (pinned or not) is not added again, so the user's pin wins.
func Merge(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, p := range l {
			name, _, _ := strings.Cut(p, "=")
			name, _, _ = strings.Cut(name, "/")
			if !seen[name] {
				seen[name] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Clean empties apt's cache of downloaded packages: they are not needed
// once installed, and an image should not carry them.
func Clean() plan.Step {
	return plan.Step{Name: "clean apt's package cache", Script: "apt_get clean\ndu -sh /var/cache/apt\n"}
}

// The files the speed-up step writes and removes.
const (
	// SpeedUpMarker records, while the build runs, what the speed-up step
	// changed; it is gone once Restore has run.
	SpeedUpMarker = "/var/lib/node-primal/dpkg-speedup"
	// UnsafeIOSnippet is the dpkg configuration that turns off fsync.
	UnsafeIOSnippet = "/etc/dpkg/dpkg.cfg.d/node-primal-unsafe-io"
	// ManDBAutoUpdate is the file whose presence makes man-db's trigger
	// rebuild its index (debconf's man-db/auto-update writes it).
	ManDBAutoUpdate = "/var/lib/man-db/auto-update"
)

type speedUpPaths struct{ Marker, Snippet, AutoUpdate string }

// paths are the speed-up's files under root ("" on a machine; tests run the
// scripts in a temporary directory).
func paths(root string) speedUpPaths {
	return speedUpPaths{root + SpeedUpMarker, root + UnsafeIOSnippet, root + ManDBAutoUpdate}
}

// SpeedUp makes dpkg faster for the rest of the build: no fsync per file
// unpacked (dpkg's force-unsafe-io) and no man-db index rebuild per package
// (man-db's trigger), as Debian's image builders do. Restore undoes both
// and must run at the end, and after a failure; a rerun after a crash
// between the two still restores the original state, which the marker
// keeps.
func SpeedUp() plan.Step {
	return plan.Step{
		Name:   "speed up dpkg for the build (force-unsafe-io, man-db's trigger off; restored at the end)",
		Script: speedUpScript(""),
	}
}

// Restore undoes SpeedUp, as its marker recorded the machine before; it
// does nothing when SpeedUp has not run.
func Restore() plan.Step {
	return plan.Step{Name: "restore dpkg's settings (fsync, man-db's trigger)", Script: RestoreScript()}
}

// RestoreScript is Restore's script alone: it needs no prelude, so it can
// run as a plain root command after a failed step.
func RestoreScript() string { return restoreScript("") }

func speedUpScript(root string) string {
	return shell.MustRender(scripts, "scripts/speedup.sh", paths(root))
}

func restoreScript(root string) string {
	return shell.MustRender(scripts, "scripts/restore.sh", paths(root))
}

// Universe are the packages node-primal may install that Ubuntu ships in
// its universe component, not in main (on Debian they are in main).
var Universe = []string{"graphicsmagick", "iptables-persistent", "netfilter-persistent"}

// NeedUniverse is which of packages (names, maybe with a pin) Ubuntu ships
// in universe.
func NeedUniverse(packages []string) []string {
	var out []string
	for _, p := range packages {
		name, _, _ := strings.Cut(p, "=")
		name, _, _ = strings.Cut(name, "/")
		if slices.Contains(Universe, name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// RequireUniverse fails at once, naming packages, when the machine's apt
// sources (one-line or deb822) do not enable Ubuntu's universe component,
// instead of apt's "Unable to locate package" minutes later.
func RequireUniverse(packages []string) plan.Step {
	return plan.Step{
		Name: "check Ubuntu's universe component is enabled (for " + strings.Join(packages, ", ") + ")",
		Script: shell.MustRender(scripts, "scripts/universe.sh", struct{ Message string }{strings.Join(packages, ", ") +
			": Ubuntu ships them in the universe component, which this machine's apt sources do not enable; " +
			"enable it before node-primal runs (add-apt-repository universe, in a shell provisioner) or drop them from packages"}),
	}
}
