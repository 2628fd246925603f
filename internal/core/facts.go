package core

import (
	"context"
	"fmt"
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
}

// factsScript prints one key=value line per fact. It runs as the login
// user, whose PATH may lack the sbin directories.
const factsScript = `u=%s
printf 'home=%%s\n' "$(getent passwd "$u" | cut -d: -f6)"
printf 'group=%%s\n' "$(id -gn "$u" 2>/dev/null)"
printf 'machine=%%s\n' "$(uname -m)"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
printf 'iptables=%%s\n' "$(PATH="$PATH:/usr/sbin:/sbin" iptables --version 2>/dev/null | head -n 1)"
`

// ReadFacts learns the instance user (instance_user, or the communicator's
// user) and reads its home and group and the machine's type and init
// system, in one round trip.
func (c *Config) ReadFacts(ctx context.Context, r *runner.Runner, generatedData map[string]interface{}) (Facts, error) {
	user := c.InstanceUser
	if user == "" {
		var err error
		if user, err = r.LoginUser(ctx, generatedData); err != nil {
			return Facts{}, err
		}
		r.UI.Say(fmt.Sprintf("%s: instance_user defaults to the communicator's user %q", r.Name, user))
	}
	out, err := r.Output(ctx, fmt.Sprintf(factsScript, shell.Quote(user)))
	if err != nil {
		return Facts{}, fmt.Errorf("cannot read the machine's facts: %w", err)
	}
	return parseFacts(user, out)
}

func parseFacts(user, out string) (Facts, error) {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	f := Facts{User: user, Home: kv["home"], Group: kv["group"], Machine: kv["machine"],
		Systemd: kv["systemd"] == "yes", Iptables: kv["iptables"]}
	if f.Home == "" {
		return f, fmt.Errorf("instance_user: user %q does not exist on the machine", user)
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
	}.Render()
}
