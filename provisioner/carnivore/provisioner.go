//go:generate packer-sdc mapstructure-to-hcl2 -type Config
//go:generate packer-sdc struct-markdown

// Package carnivore is the node-carnivore provisioner: it makes the
// per-release app image on top of a node-primal image: nginx configured from typed settings, the app uploaded as one
// stream, its secrets installed safely, dependencies from the precache, a
// service that starts at boot, and a health check before the image is frozen.
package carnivore

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/nodebake/packer-plugin-node/internal/atomicfile"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/sbom"
	"github.com/nodebake/packer-plugin-node/internal/service"
	"github.com/nodebake/packer-plugin-node/internal/shell"
	"github.com/nodebake/packer-plugin-node/version"
)

// Config is the node-carnivore provisioner's configuration. The settings it
// shares with node-primal (instance_user, public_port, nginx_port,
// precache_dir, npm_registry and the proxies) are in core.Config; those
// node-primal recorded on the image are checked against it.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	core.Config         `mapstructure:",squash"`

	// The app's name (lowercase letters, digits and -). With `environment`
	// it names the service, `<app_name>-<environment>`.
	AppName string `mapstructure:"app_name" required:"true"`
	// The environment, given to the app as `NODE_ENV`. Defaults to `production`.
	Environment string `mapstructure:"environment" required:"false"`
	// Local directory of the built app, uploaded as one compressed stream.
	Source string `mapstructure:"source" required:"true"`
	// Patterns left out of the upload, in addition to `.git`,
	// `node_modules`, `.env` and `.npmrc`, which are always left out (the
	// image installs its own dependencies; the env file has its own
	// upload). A pattern without a slash matches any path element
	// (`*.log`); one with a slash, or starting with one, matches from the
	// top (`tmp/cache`, `/dist`). `source` may be a link to a directory; a
	// link inside it that points outside it is refused.
	Exclude []string `mapstructure:"exclude" required:"false"`
	// The script node runs, relative to `source`. Defaults to `cluster.js`.
	Entrypoint string `mapstructure:"entrypoint" required:"false"`
	// The port the app listens on (given to it as `PORT`), on 127.0.0.1
	// behind nginx. Defaults to `3000`.
	AppPort int `mapstructure:"app_port" required:"false"`
	// Directory of static files nginx serves itself, relative to `source`.
	// Defaults to `.bin/public`. It cannot be `source` itself, which holds
	// the sources and `.env.json`; nginx never serves a path with a dotfile
	// or dot-directory in it (except `/.well-known/`).
	StaticRoot string `mapstructure:"static_root" required:"false"`
	// Host names nginx answers to. Defaults to `["_"]` (any).
	ServerName []string `mapstructure:"server_name" required:"false"`
	// nginx worker processes: a number, or 0 for `auto`. Defaults to `4`,
	// the original recipe's.
	NginxWorkers *int `mapstructure:"nginx_workers" required:"false"`
	// Local path of a text/template file that replaces the built-in
	// `nginx.conf`. It is rendered with the same data: `.Name`, `.User`
	// (the nginx workers' user, `www-data`),
	// `.Workers`, `.ServerNames`, `.StaticRoot`, `.AppPort`, `.NginxPort`,
	// `.PublicPort`, and checked with `nginx -t` before nginx reloads.
	NginxConf string `mapstructure:"nginx_conf" required:"false"`
	// Local path of a text/template file that replaces the built-in site,
	// rendered with the same data as `nginx_conf`.
	SiteConf string `mapstructure:"site_conf" required:"false"`
	// Local path of the app's secrets (for example `deploy/env/production.json`),
	// installed as `.env.json` in the app's directory, mode 0600, owned by
	// the instance user. Its content is never printed.
	EnvFile string `mapstructure:"env_file" required:"false"`
	// How the app is started at boot: `auto` (default: systemd when it is
	// PID 1, sysvinit otherwise), `systemd` (a hardened unit) or `sysvinit`
	// (an `/etc/init.d` script, the original recipe's way).
	ServiceManager string `mapstructure:"service_manager" required:"false"`
	// Path requested through `public_port` before the image is frozen.
	// Defaults to `/`.
	HealthPath string `mapstructure:"health_path" required:"false"`
	// The status the health check expects. Defaults to `200`.
	HealthStatus int `mapstructure:"health_status" required:"false"`
	// How long the app has to answer. Defaults to `60s`.
	HealthTimeout time.Duration `mapstructure:"health_timeout" required:"false"`
	// A local path where the image's SBOM is also written, on the machine
	// running Packer: a CycloneDX 1.5 JSON document of the app's production
	// dependencies as installed (every package under the release's
	// `node_modules`, nested ones too, with name, version, purl and license),
	// Node.js, and the OS packages. It is always written on the image, at
	// `/usr/share/node-carnivore/<app_name>-<environment>.cdx.json`, which
	// Packer's `hcp-sbom` provisioner (Packer 1.12+) can take as its
	// `source`. Its directory must exist. With several sources in one
	// build, give each its own file (`"sbom-${source.name}.cdx.json"`):
	// builds run in parallel, and the file is replaced whole by each.
	SBOMOutput string `mapstructure:"sbom_output" required:"false"`
	// Fail the build, before it touches the machine, when the primal image's
	// precache does not hold this app's dependencies (a precache miss),
	// naming each field that differs: for pipelines that must never ship an
	// image whose dependencies were fetched from the registry at release
	// time. Defaults to `false`: a miss installs them from `npm_registry`.
	RequirePrecacheHit bool `mapstructure:"require_precache_hit" required:"false"`

	ctx interpolate.Context
	// Read by load at Prepare time, so mistakes fail `packer validate`.
	envJSON          []byte
	deps             precache.Want // the app's package.json and lockfile, by SHA-256
	mainTpl, siteTpl nginx.Template
}

// Provisioner implements packersdk.Provisioner.
type Provisioner struct {
	config Config
}

// ConfigSpec returns the HCL2 spec generated from Config.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes the configuration, applies the defaults, reads the
// local files (the app's lockfile, the env file, nginx overrides) and
// validates every field, reporting all mistakes at once.
func (p *Provisioner) Prepare(raws ...interface{}) error {
	return core.Prepare("node-carnivore", &p.config, &p.config.ctx, raws...)
}

// Provision reads the machine's facts and node-primal's manifest, checks
// that this build agrees with the image, decides whether the precache can
// be used as it is, then runs the plan.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generatedData map[string]interface{}) error {
	c := &p.config
	r := c.NewRunner("node-carnivore", ui, comm, c.Secrets())
	user := c.InstanceUser
	if user == "" {
		m, err := precache.ReadManifest(ctx, r.RootOutput)
		if err != nil {
			return err
		}
		user = core.DefaultInstanceUser
		if m != nil && m.InstanceUser != "" {
			user = m.InstanceUser
			ui.Say(fmt.Sprintf("node-carnivore: instance_user defaults to %q, the user node-primal's manifest records", user))
		} else {
			ui.Say(fmt.Sprintf("node-carnivore: instance_user defaults to %q (no node-primal manifest records one)", user))
		}
	}
	f, err := c.Facts(ctx, r, user, false)
	if err != nil {
		return err
	}
	dir := c.PrecacheDirFor(f.Home)
	state, err := precache.ReadState(ctx, r.RootOutput, nodejs.BinDir, dir)
	if err != nil {
		return err
	}
	if state.Manifest == nil {
		ui.Say("node-carnivore: no node-primal manifest at " + precache.ManifestPath +
			" (the image was not made by node-primal): instance_user, public_port, nginx_port and precache_dir cannot be checked")
	} else if err := c.CheckManifest(state.Manifest, f, dir); err != nil {
		return err
	}
	v := precache.Check(state, c.want(f))
	ui.Say("node-carnivore: precache " + v.String())
	if err := c.checkHit(v); err != nil {
		return err
	}
	pl, err := c.Plan(f, v)
	if err != nil {
		return err
	}
	r.Total = len(pl.Steps) + 1 // and the SBOM
	if err := r.Run(ctx, pl); err != nil {
		return err
	}
	// The release now live, for the SBOM and the summary.
	current := layout(f).Current()
	out, err := r.RootOutput(ctx, "readlink "+shell.Quote(current))
	if err != nil {
		return err
	}
	rel := strings.TrimSpace(out)
	sbomAt, err := c.writeSBOM(ctx, r, f, current, rel)
	if err != nil {
		return err
	}
	return c.summary(ctx, r, f, v, current, rel, sbomAt)
}

// checkHit refuses a precache miss when require_precache_hit is set.
func (c *Config) checkHit(v precache.Verdict) error {
	if c.RequirePrecacheHit && !v.Hit {
		return fmt.Errorf("require_precache_hit: the primal image's precache does not hold this app's dependencies (%s); rebuild the primal image with this lockfile, or unset require_precache_hit to install them from the registry", v)
	}
	return nil
}

// writeSBOM writes the image's SBOM on the image, and at sbom_output when
// set. It runs after the plan, because the SBOM lists what was installed,
// not what was planned.
// current is the live release's link, rel the release it points to.
func (c *Config) writeSBOM(ctx context.Context, r *runner.Runner, f core.Facts, current, rel string) (string, error) {
	where := sbom.Path(c.serviceName())
	doc, err := sbom.Write(ctx, r, c.Prelude(f, core.DefaultDpkgLockTimeout), current, nodejs.Bin, sbom.Subject{
		Name: c.serviceName(), Version: path.Base(rel),
		Distro: f.Distro.ID, DistroVersion: f.Distro.Version,
		Tool: "packer-plugin-node", ToolVersion: version.PluginVersion.FormattedVersion(),
	}, where)
	if err != nil {
		return "", err
	}
	if c.SBOMOutput != "" {
		// Replaced whole: sources of one build may share the path.
		if err := atomicfile.Write(c.SBOMOutput, doc, 0o644); err != nil {
			return "", fmt.Errorf("sbom_output: %w", err)
		}
		where += " and " + c.SBOMOutput
	}
	return where, nil
}

// summary closes the build with what the image now holds, the things a
// user would otherwise log in to check.
func (c *Config) summary(ctx context.Context, r *runner.Runner, f core.Facts, v precache.Verdict, current, rel, sbomAt string) error {
	n, kib, err := precache.Measure(ctx, r.RootOutput, current)
	if err != nil {
		return err
	}
	deps := "installed from the registry"
	if v.Hit {
		deps = "copied from the precache"
	}
	lines := [][2]string{
		{"release", fmt.Sprintf("%s → %s", current, rel)},
		{"service", fmt.Sprintf("%s (%s, enabled at boot, running as %s)", c.serviceName(), service.Resolve(c.ServiceManager, f.Systemd), f.User)},
		{"dependencies", fmt.Sprintf("%d packages, %.1f MiB, %s", n, float64(kib)/1024, deps)},
		{"nginx", fmt.Sprintf(":%d → nginx :%d → app :%d, server_name %s, static files from %s", c.PublicPort, c.NginxPort, c.AppPort, strings.Join(c.ServerName, " "), path.Join(current, c.StaticRoot))},
		{"health", fmt.Sprintf("GET %s answered %d through :%d", c.HealthPath, c.HealthStatus, c.PublicPort)},
	}
	lines = append(lines, [2]string{"sbom", sbomAt})
	if c.EnvFile != "" {
		lines = append(lines, [2]string{"secrets", path.Join(current, ".env.json") + " (mode 0600, owner " + f.User + ")"})
	}
	r.Summary("the image now holds", lines)
	return nil
}
