package runner

import (
	"embed"
	"sort"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/prelude.sh
var scripts embed.FS

// Prelude is the shell library every step script starts with: strict mode,
// a known PATH and locale, the build's environment, and the few functions
// steps share (apt_get, apt_install, as_user), so no step carries its own
// copy of "install a package" or "run as the instance user". sudo resets
// the environment, so all of it is set inside the script, never on the
// command line.
type Prelude struct {
	// Env is exported as is (the build's proxies, npm's registry).
	Env map[string]string
	// User and Home are the instance user's, for as_user.
	User, Home string
	// Node is the absolute path of node on the image ($node_bin).
	Node string
	// CABundle, when set, is given to Node.js as NODE_EXTRA_CA_CERTS once it
	// exists on the machine.
	CABundle string
	// DpkgLockTimeout bounds every apt-get's wait for the dpkg lock.
	DpkgLockTimeout time.Duration
	// Ubuntu: needrestart (installed by default since 22.04) would stop
	// apt at an interactive prompt; it is told to restart services itself.
	Ubuntu bool
}

// Render is the prelude's text, exactly as it starts every step.
func (p Prelude) Render() string {
	return shell.MustRender(scripts, "scripts/prelude.sh", struct {
		Prelude
		Exports     []string
		LockSeconds int
	}{p, Exports(p.Env), int(p.DpkgLockTimeout.Round(time.Second) / time.Second)})
}

// Exports renders env as sorted NAME=quoted-value words for export lines.
func Exports(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + shell.Quote(env[k])
	}
	return out
}
