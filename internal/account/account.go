// Package account holds the step that makes the instance user: by default
// a dedicated system account the app runs as, which can do nothing a
// login user can (no password, no login shell, no sudo).
package account

import (
	"embed"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// NoLogin is the shell of the accounts Ensure makes, or /bin/false where
// the system has no nologin.
const NoLogin = "/usr/sbin/nologin"

// Ensure makes user a system account with home home when it does not exist
// (with a group of its name, or the existing group of that name), and
// leaves an existing user as it is. Either way the home is made
// traversable by others (o+x, not readable), so nginx's workers, which are
// not the user, reach the static files by path; the user's secrets stay
// unreadable to them by their own mode. A user with uid 0 is refused.
func Ensure(user, home string) plan.Step {
	return plan.Step{
		Name: "instance user " + user + " (a system account without login, password or sudo, made if missing)",
		Script: shell.MustRender(scripts, "scripts/ensure.sh", struct {
			User, Home, Shell string
		}{user, home, NoLogin}),
	}
}
