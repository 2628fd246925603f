// Package release puts a new version of the app on the machine: unpacked
// from one streamed archive into a fresh release directory, given its
// secrets and dependencies, then switched into place atomically as
// ~/app/server. A rerun makes a new release and removes
// the old ones, so nothing of a previous attempt lingers; a step that
// fails before the switch removes the release it was making, and never
// the live one.
package release

import (
	"embed"
	"io"
	"path"

	"github.com/nodebake/packer-plugin-node/internal/npmaudit"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Layout is where an app lives for its user.
type Layout struct {
	User, Group string
	AppDir      string // ~/app
}

// Current is the path the service runs from: a symlink to the live release.
func (l Layout) Current() string { return path.Join(l.AppDir, "server") }

// IncomingFile records the release being prepared, between steps. It is
// root's, outside the app user's directories: later steps run as root and
// act on the path it holds, so the user must not be able to write it.
const IncomingFile = "/run/node-carnivore/incoming-release"

// incomingFile is IncomingFile, but for tests that run the steps here.
var incomingFile = IncomingFile

func (l Layout) incoming() string { return incomingFile }

func (l Layout) envIncoming() string { return path.Join(l.AppDir, ".env.json.incoming") }

type data struct {
	Layout
	Current, Incoming, EnvIncoming string
	IncomingDir                    string
	HasEnv                         bool
	// For Dependencies.
	Precache         string
	Hit, HasLockfile bool
	Audit            string // npmaudit.Script, after an install
}

func (l Layout) data() data {
	return data{Layout: l, Current: l.Current(), Incoming: l.incoming(), IncomingDir: path.Dir(l.incoming()), EnvIncoming: l.envIncoming()}
}

// Unpack streams the app (open returns the tar.gz) into a new release
// directory as the user, and installs envJSON (if any) there as .env.json,
// mode 0600: the secret is never world-readable, not even while uploading.
func Unpack(l Layout, describe string, open func() io.ReadCloser, envJSON []byte) plan.Step {
	d := l.data()
	d.HasEnv = envJSON != nil
	s := plan.Step{
		Name:   "unpack the app into a new release",
		Stdin:  &plan.Stream{Describe: describe, Open: open},
		Script: shell.MustRender(scripts, "scripts/unpack.sh", d),
	}
	if envJSON != nil {
		s.Files = []plan.File{{Path: d.EnvIncoming, Mode: 0o600, Owner: l.User, Group: l.Group, Content: envJSON, Sensitive: true}}
	}
	return s
}

// Dependencies gives the release its node_modules, as the precache
// verdict says: on a hit, copied from the precache in precacheDir, with no
// registry request; on a miss, installed by npm (npm ci with a lockfile)
// with the npm cache warm from the base image, so only what changed is
// fetched, then their registry signatures verified as audit (a value of
// npm_audit_signatures) says. The step's name says which; node-carnivore
// prints the verdict, and why, before the plan runs.
func Dependencies(l Layout, precacheDir string, v precache.Verdict, hasLockfile bool, audit string) plan.Step {
	d := l.data()
	d.Precache, d.Hit, d.HasLockfile = precacheDir, v.Hit, hasLockfile
	d.Audit = npmaudit.Script(audit)
	name := "install the app's dependencies with npm (precache miss)" + npmaudit.StepSuffix(audit)
	if v.Hit {
		name = "copy the app's dependencies from the precache (precache hit)"
	}
	return plan.Step{
		Name:   name,
		Script: shell.MustRender(scripts, "scripts/dependencies.sh", d),
	}
}

// Switch makes the new release the current one and removes the others.
func Switch(l Layout) plan.Step {
	return plan.Step{
		Name:   "switch " + l.Current() + " to the new release",
		Script: shell.MustRender(scripts, "scripts/switch.sh", l.data()),
	}
}
