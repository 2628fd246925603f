package nginx

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed templates/*.tmpl
var templates embed.FS

// WorkerUser is the user Debian's nginx runs its workers as. They are not
// the app's user: they read the static files through their permissions
// (world-readable files in a traversable home) and cannot read the app's
// secrets (mode 0600, the app user's).
const WorkerUser = "www-data"

// Site is the typed data nginx.conf and the site are rendered from, by the
// embedded templates and by users' overrides alike. Every field is validated
// by the caller to a grammar that cannot break out of an nginx directive.
type Site struct {
	Name        string   // the app's service name, e.g. ponyfoo-production
	User        string   // nginx workers run as this user: WorkerUser
	Workers     string   // worker_processes: a number or "auto"
	ServerNames []string // host names, or "_" for any
	StaticRoot  string   // absolute path of the static files
	AppPort     int
	NginxPort   int
	PublicPort  int
}

var funcs = template.FuncMap{"join": strings.Join}

// Template is a parsed nginx config template: an embedded default or a
// user's override file.
type Template struct {
	name string
	t    *template.Template
}

// DefaultTemplate returns the embedded template "nginx.conf" or "site.conf".
func DefaultTemplate(name string) Template {
	t := template.Must(template.New(name+".tmpl").Funcs(funcs).Option("missingkey=error").ParseFS(templates, "templates/"+name+".tmpl"))
	return Template{name: name, t: t}
}

// LoadTemplate parses a user's override from a local file.
func LoadTemplate(path string) (Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Template{}, err
	}
	t, err := template.New(path).Funcs(funcs).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return Template{}, err
	}
	return Template{name: path, t: t}, nil
}

// sample fills every field of Site, so Check finds a template that uses a
// field Site does not have, or a function it lacks, before any machine
// exists.
var sample = Site{
	Name: "app-production", User: WorkerUser, Workers: "auto", ServerNames: []string{"_"},
	StaticRoot: "/srv/app/public", AppPort: 3000, NginxPort: 8080, PublicPort: 80,
}

// Check renders the template with sample data: a reference to a field or
// function that does not exist fails here, at Prepare time.
func (t Template) Check() error {
	_, err := t.Render(sample)
	return err
}

// Render fills the template with s.
func (t Template) Render(s Site) ([]byte, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("render %s: %w", t.name, err)
	}
	return b.Bytes(), nil
}

// Paths of the files Configure manages.
const (
	MainConf       = "/etc/nginx/nginx.conf"
	SitesAvailable = "/etc/nginx/sites-available"
	SitesEnabled   = "/etc/nginx/sites-enabled"
)

// Configure installs nginx.conf and the app's site, removes the default
// site, and checks the result with `nginx -t` before nginx is reloaded. When
// the check fails, the previous files are put back, nginx keeps running the
// old config, and the build fails with nginx's message.
func Configure(name string, mainConf, site []byte) plan.Step {
	return plan.Step{
		Name: "configure nginx for " + name,
		Files: []plan.File{
			{Path: MainConf + ".node-new", Mode: 0o644, Content: mainConf},
			{Path: SitesAvailable + "/" + name + ".conf.node-new", Mode: 0o644, Content: site},
		},
		Script: shell.MustRender(scripts, "scripts/configure.sh", struct{ Name, Main, Available, Enabled string }{
			name, MainConf, SitesAvailable, SitesEnabled,
		}),
	}
}
