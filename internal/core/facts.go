package core

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/shell"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

// Facts are what both provisioners read from the machine before they make
// a plan, so the plan shows what will run (golden tests fix them).
type Facts struct {
	User, Group, Home string // the instance user, its primary group and home
	Machine           string // `uname -m`, e.g. x86_64
	Systemd           bool   // systemd is PID 1
	// Iptables is the first line of `iptables --version` ("" when iptables
	// is not installed); it tells the legacy backend from nftables.
	Iptables string
	// Distro is the distribution and release (/etc/os-release).
	Distro Distro
	// UFW says ufw is enabled (/etc/ufw/ufw.conf): the redirect then goes
	// into its rules, which nftables.service or iptables-persistent would
	// otherwise wipe or remove.
	UFW bool
	// Create says the instance user does not exist yet: node-primal makes
	// it (see account.Ensure), with Home and Group as given here.
	Create bool
}

// factsScript prints one key=value line per fact. It runs as the login
// user, whose PATH may lack the sbin directories.
const factsScript = `u=%s
printf 'home=%%s\n' "$(getent passwd "$u" | cut -d: -f6)"
printf 'group=%%s\n' "$(id -gn "$u" 2>/dev/null)"
printf 'uid=%%s\n' "$(id -u "$u" 2>/dev/null)"
printf 'machine=%%s\n' "$(uname -m)"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
printf 'iptables=%%s\n' "$(PATH="$PATH:/usr/sbin:/sbin" iptables --version 2>/dev/null | head -n 1)"
( . /etc/os-release 2>/dev/null
  printf 'os_id=%%s\nos_version=%%s\nos_codename=%%s\nos_name=%%s\n' "${ID:-}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}" "${PRETTY_NAME:-}" )
printf 'ufw=%%s\n' "$(sed -n 's/^ENABLED=//p' /etc/ufw/ufw.conf 2>/dev/null)"
`

// ReadFacts reads the instance user's home and group and the machine's
// type and init system, in one round trip. When the user does not exist
// and create is set (node-primal, which makes it), the facts are those of
// the account it will make: home /home/<user>, a group of its name.
func (c *Config) ReadFacts(ctx context.Context, r *runner.Runner, user string, create bool) (Facts, error) {
	out, err := r.Output(ctx, fmt.Sprintf(factsScript, shell.Quote(user)))
	if err != nil {
		return Facts{}, fmt.Errorf("cannot read the machine's facts: %w", err)
	}
	return parseFacts(user, out, create)
}

func parseFacts(user, out string, create bool) (Facts, error) {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	f := Facts{User: user, Home: kv["home"], Group: kv["group"], Machine: kv["machine"],
		Systemd: kv["systemd"] == "yes", Iptables: kv["iptables"],
		Distro: Distro{ID: kv["os_id"], Version: kv["os_version"], Codename: kv["os_codename"], Name: kv["os_name"]},
		UFW:    kv["ufw"] == "yes"}
	if err := f.Distro.Check(); err != nil {
		return f, err
	}
	if f.Home == "" && create {
		f.Home, f.Group, f.Create = path.Join("/home", user), user, true
	}
	if f.Home == "" {
		return f, fmt.Errorf("instance_user: user %q does not exist on the machine (node-primal makes it; was this image made by node-primal?)", user)
	}
	if kv["uid"] == "0" {
		return f, fmt.Errorf("instance_user: user %q has uid 0: it is root by another name, and the app must not run as root", user)
	}
	if validate.AbsPath(f.Home) != nil || validate.User(f.Group) != nil {
		return f, fmt.Errorf("instance_user: user %q has an unusable home %q or group %q", user, f.Home, f.Group)
	}
	return f, nil
}

// Prelude is the shell library every step of a plan starts with, for the
// instance user of f: the build's environment, apt_get and apt_install
// (waiting up to lock for the dpkg lock), and as_user.
func (c *Config) Prelude(f Facts, lock time.Duration) string {
	return runner.Prelude{
		Env: c.Env(), User: f.User, Home: f.Home,
		Node: nodejs.Bin, CABundle: cacerts.Bundle, DpkgLockTimeout: lock,
		Ubuntu: f.Distro.Ubuntu(),
	}.Render()
}
