// Package npmaudit verifies the registry signatures of the packages npm
// installed (`npm audit signatures`), when the registry publishes the keys
// to check them with. Both provisioners append its script to the step that
// installs dependencies, so it runs with that step's registry, token and
// proxies, and fails that step.
package npmaudit

import (
	"embed"
	"fmt"
	"slices"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/signatures.sh scripts/keys.js
var scripts embed.FS

// The values of npm_audit_signatures.
const (
	// Auto verifies when the registry publishes signing keys, and says so
	// in one line when it does not.
	Auto = "auto"
	// Require fails the build when the registry publishes no signing keys.
	Require = "require"
	// Off never verifies (for private registries that do not sign).
	Off = "off"
)

// Modes are the values npm_audit_signatures takes, the default first.
var Modes = []string{Auto, Require, Off}

// Valid checks a value of npm_audit_signatures.
func Valid(mode string) error {
	if !slices.Contains(Modes, mode) {
		return fmt.Errorf("%q is not one of %s", mode, strings.Join(Modes, ", "))
	}
	return nil
}

// Script is the shell that verifies the registry signatures of what npm
// installed in the current directory, as the instance user (the prelude's
// as_user), for mode; "" when mode is Off. It exits non-zero naming the
// registry (credentials redacted) and each package npm reported.
func Script(mode string) string {
	if mode == Off {
		return ""
	}
	js, err := scripts.ReadFile("scripts/keys.js")
	if err != nil {
		panic(err)
	}
	return shell.MustRender(scripts, "scripts/signatures.sh", struct{ Mode, KeysJS string }{mode, string(js)})
}

// StepSuffix is what a step's name gains when it also verifies signatures.
func StepSuffix(mode string) string {
	if mode == Off {
		return ""
	}
	return ", then verify their registry signatures"
}
