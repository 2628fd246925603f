// Package cacerts trusts extra certificate authorities on the image: in the
// system store (update-ca-certificates) and for Node.js, which ignores the
// system store unless NODE_EXTRA_CA_CERTS points at it. Networks that
// inspect TLS (many corporate ones) need this for apt over https and npm.
package cacerts

import (
	"embed"
	"fmt"
	"path"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Dir holds the installed certificates.
const Dir = "/usr/local/share/ca-certificates/node-primal"

// Bundle is the system bundle that update-ca-certificates writes.
const Bundle = "/etc/ssl/certs/ca-certificates.crt"

// Cert is one PEM certificate file to trust.
type Cert struct {
	Name    string // base name on the image, ends in .crt
	Content []byte
}

// Install trusts certs. The directory is rewritten whole, so a rerun (or a
// certificate removed from the config) leaves exactly the configured set.
func Install(certs []Cert) plan.Step {
	s := plan.Step{Name: fmt.Sprintf("trust %d extra CA certificate(s)", len(certs))}
	for _, c := range certs {
		s.Files = append(s.Files, plan.File{Path: path.Join(Dir, c.Name), Mode: 0o644, Content: c.Content})
	}
	s.Script = shell.MustRender(scripts, "scripts/install.sh", struct {
		Certs       []Cert
		Dir, Bundle string
	}{certs, Dir, Bundle})
	return s
}
