// Package precache installs an app's production dependencies on the base
// image before the app itself exists, and owns the manifest that records
// what was installed (manifest.go), so the app image's build can use them
// as they are when its inputs have not changed.
package precache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"embed"

	"github.com/nodebake/packer-plugin-node/internal/npmaudit"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

//go:embed scripts/*.sh
var scripts embed.FS

// TokenFile is where the npm token lives while the install runs: /run is a
// tmpfs, so the token is never written to the image's disk.
const TokenFile = "/run/node-primal/npmrc"

// Lockfiles are the names npm reads a lockfile from, in its own order of preference.
var Lockfiles = []string{"npm-shrinkwrap.json", "package-lock.json"}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._~+/=:-]+$`)

// ValidToken checks that an npm token can be written into an npmrc line.
func ValidToken(t string) error {
	if !tokenRE.MatchString(t) {
		return fmt.Errorf("contains characters an npm token never has (only letters, digits and . _ ~ + / = : -)")
	}
	return nil
}

// ValidRegistry checks an npm registry URL.
func ValidRegistry(r string) error {
	u, err := url.Parse(r)
	if err == nil && u.User != nil {
		return fmt.Errorf("%q must not carry credentials: give the token as npm_token", u.Redacted())
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an http(s) registry URL", validate.Redacted(r))
	}
	if strings.ContainsAny(r, " \t\r\n\"'") {
		return fmt.Errorf("%q contains spaces or quotes", validate.Redacted(r))
	}
	return nil
}

// Spec is what to precache and how.
type Spec struct {
	User, Home   string
	Dir          string // absolute precache directory
	PackageJSON  []byte
	LockfileName string // "" when there is no lockfile
	Lockfile     []byte
	Registry     string // "" keeps npm's default
	Token        string // sensitive
	KeepToken    bool   // install the token in the user's ~/.npmrc for later builds
	// AuditSignatures is npm_audit_signatures: whether the install is
	// followed by npm audit signatures (npmaudit.Script).
	AuditSignatures string
}

// Want is what the precache of s must match to be current.
func (s Spec) Want() Want {
	w := Want{Dir: s.Dir, PackageJSONSHA256: SHA256(s.PackageJSON)}
	if s.LockfileName != "" {
		w.Lockfile, w.LockfileSHA256 = s.LockfileName, SHA256(s.Lockfile)
	}
	return w
}

// Contents is what the manifest records of a precache made from s.
func (s Spec) Contents() *Contents {
	w := s.Want()
	return &Contents{Dir: w.Dir, Lockfile: w.Lockfile, LockfileSHA256: w.LockfileSHA256, PackageJSONSHA256: w.PackageJSONSHA256}
}

// SHA256 is the hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Install uploads package.json and the lockfile into the precache
// directory and installs production dependencies as the instance user,
// from scratch: the plan has it only when Check found the precache out of
// date. The manifest is removed first, so a failed install never leaves
// one that claims the precache is current.
func Install(s Spec, reason string) plan.Step {
	st := plan.Step{Name: "precache production dependencies in " + s.Dir + " (" + reason + ")" + npmaudit.StepSuffix(s.AuditSignatures)}
	st.Files = append(st.Files, plan.File{Path: path.Join(s.Dir, "package.json"), Mode: 0o644, Owner: s.User, Content: s.PackageJSON})
	if s.LockfileName != "" {
		st.Files = append(st.Files, plan.File{Path: path.Join(s.Dir, s.LockfileName), Mode: 0o644, Owner: s.User, Content: s.Lockfile})
	}
	npmrc := ""
	if s.Token != "" {
		npmrc = TokenFile
		if s.KeepToken {
			npmrc = path.Join(s.Home, ".npmrc")
		}
		st.Files = append(st.Files, plan.File{Path: npmrc, Mode: 0o600, Owner: s.User, Content: []byte(Npmrc(s.Registry, s.Token)), Sensitive: true})
	}
	st.Script = shell.MustRender(scripts, "scripts/install.sh", struct {
		Spec
		Npmrc, Manifest string
		// RemoveTokenFile: the token lives on a tmpfs for this step only.
		RemoveTokenFile bool
		Audit           string
	}{s, npmrc, ManifestPath, s.Token != "" && !s.KeepToken, npmaudit.Script(s.AuditSignatures)})
	return st
}

// Keep is the step a current precache gets instead of Install: it
// installs nothing and says so, so the build's step count is the same hit
// or miss and the verdict shows in the step's line.
func Keep(dir, verdict string) plan.Step {
	return plan.Step{
		Name:   "precache production dependencies in " + dir + " (" + verdict + "): nothing to install",
		Script: "echo " + shell.Quote("the precache in "+dir+" is current") + "\n",
	}
}

// measureScript prints the number of packages at the top of node_modules
// (scoped ones counted one by one) and its size in KiB.
const measureScript = `d=%s/node_modules
[ -d "$d" ] || exit 0
cd "$d"
for e in * @*/*; do [ -f "$e/package.json" ] && echo "$e"; done | wc -l
du -sk . | cut -f1
`

// Measure counts the packages at the top of dir's node_modules and its
// size in KiB, for the build's closing summary; 0, 0 when there is none.
func Measure(ctx context.Context, run RootOutput, dir string) (packages int, kib int64, err error) {
	out, err := run(ctx, fmt.Sprintf(measureScript, shell.Quote(dir)))
	if err != nil {
		return 0, 0, fmt.Errorf("cannot measure %s: %w", dir, err)
	}
	f := strings.Fields(out)
	if len(f) == 2 {
		packages, _ = strconv.Atoi(f[0])
		kib, _ = strconv.ParseInt(f[1], 10, 64)
	}
	return packages, kib, nil
}

// Npmrc is an npmrc that authenticates to registry with token, keyed the way
// npm expects (the registry URL without its scheme).
func Npmrc(registry, token string) string {
	u, _ := url.Parse(registry)
	p := u.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return fmt.Sprintf("registry=%s\n//%s%s:_authToken=%s\n", registry, u.Host, p, token)
}
