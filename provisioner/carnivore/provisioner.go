//go:generate packer-sdc mapstructure-to-hcl2 -type Config
//go:generate packer-sdc struct-markdown

// Package carnivore is the node-carnivore provisioner: it makes the
// per-release app image (the seed's "carnivore") on top of a node-primal
// image: nginx configured from typed settings, the app uploaded as one
// stream, its secrets installed safely, dependencies from the precache, a
// service that starts at boot, and a health check before the image is frozen.
package carnivore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/runner"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

// Config is the node-carnivore provisioner's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The app's name (lowercase letters, digits and -). With `environment`
	// it names the service, `<app_name>-<environment>`, as the seed did.
	AppName string `mapstructure:"app_name" required:"true"`
	// The environment, given to the app as `NODE_ENV`. Defaults to `production`.
	Environment string `mapstructure:"environment" required:"false"`
	// Local directory of the built app, uploaded as one compressed stream.
	Source string `mapstructure:"source" required:"true"`
	// Patterns left out of the upload: a pattern without a slash matches any
	// path element (`*.log`), one with a slash matches from the top
	// (`tmp/cache`). Defaults to `[".git", "node_modules"]`.
	Exclude []string `mapstructure:"exclude" required:"false"`
	// The script node runs, relative to `source`. Defaults to `cluster.js`.
	Entrypoint string `mapstructure:"entrypoint" required:"false"`
	// The port the app listens on (given to it as `PORT`), on 127.0.0.1
	// behind nginx. Defaults to `3000`.
	AppPort int `mapstructure:"app_port" required:"false"`
	// Directory of static files nginx serves itself, relative to `source`.
	// Defaults to `.bin/public`.
	StaticRoot string `mapstructure:"static_root" required:"false"`
	// Host names nginx answers to. Defaults to `["_"]` (any).
	ServerName []string `mapstructure:"server_name" required:"false"`
	// nginx worker processes: a number, or 0 for `auto`. Defaults to `4`, the seed's.
	NginxWorkers int `mapstructure:"nginx_workers" required:"false"`
	// The port nginx listens on; must match node-primal's. Defaults to `8080`.
	NginxPort int `mapstructure:"nginx_port" required:"false"`
	// The port clients use, redirected to `nginx_port` by node-primal.
	// Defaults to `80`. The health check goes through it.
	PublicPort int `mapstructure:"public_port" required:"false"`
	// Local path of a text/template file that replaces the built-in
	// `nginx.conf`. It is rendered with the same data: `.Name`, `.User`,
	// `.Workers`, `.ServerNames`, `.StaticRoot`, `.AppPort`, `.NginxPort`,
	// `.PublicPort`, and checked with `nginx -t` before nginx reloads.
	NginxConf string `mapstructure:"nginx_conf" required:"false"`
	// Local path of a text/template file that replaces the built-in site,
	// rendered with the same data as `nginx_conf`.
	SiteConf string `mapstructure:"site_conf" required:"false"`
	// Local path of the app's secrets (the seed's `deploy/env/<env>.json`),
	// installed as `.env.json` in the app's directory, mode 0600, owned by
	// the instance user. Its content is never printed.
	EnvFile string `mapstructure:"env_file" required:"false"`
	// How the app is started at boot: `auto` (default: systemd when it is
	// PID 1, sysvinit otherwise), `systemd` (a hardened unit) or `sysvinit`
	// (an `/etc/init.d` script, the seed's way).
	ServiceManager string `mapstructure:"service_manager" required:"false"`
	// The user the app and nginx run as. Defaults to the communicator's
	// user, like node-primal's.
	InstanceUser string `mapstructure:"instance_user" required:"false"`
	// The precache node-primal made. Defaults to `app/precache` in the
	// instance user's home.
	PrecacheDir string `mapstructure:"precache_dir" required:"false"`
	// The npm registry for dependencies the precache lacks. Defaults to
	// npm's own setting on the image.
	NpmRegistry string `mapstructure:"npm_registry" required:"false"`
	// HTTP proxy for npm during the build (not persisted).
	HTTPProxy string `mapstructure:"http_proxy" required:"false"`
	// HTTPS proxy for npm during the build (not persisted).
	HTTPSProxy string `mapstructure:"https_proxy" required:"false"`
	// Hosts that bypass the proxies, comma-separated.
	NoProxy string `mapstructure:"no_proxy" required:"false"`
	// Path requested through `public_port` before the image is frozen.
	// Defaults to `/`.
	HealthPath string `mapstructure:"health_path" required:"false"`
	// The status the health check expects. Defaults to `200`.
	HealthStatus int `mapstructure:"health_status" required:"false"`
	// How long the app has to answer. Defaults to `60s`.
	HealthTimeout time.Duration `mapstructure:"health_timeout" required:"false"`

	ctx interpolate.Context
	// Read and rendered at Prepare time, so mistakes fail `packer validate`.
	envJSON          []byte
	lockfileName     string
	lockfileSHA      string
	mainTpl, siteTpl nginx.Template
}

// Provisioner implements packersdk.Provisioner.
type Provisioner struct {
	config Config
}

// ConfigSpec returns the HCL2 spec generated from Config.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes the configuration, applies the defaults and validates
// every field, reporting all mistakes at once.
func (p *Provisioner) Prepare(raws ...interface{}) error {
	err := config.Decode(&p.config, &config.DecodeOpts{
		PluginType:         "node-carnivore",
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	p.config.setDefaults()
	if err := p.config.validate(); err != nil {
		return err
	}
	// Scrub the env file's values from the plugin's own logs too.
	packersdk.LogSecretFilter.Set(p.config.secrets()...)
	return nil
}

// Provision reads the instance user's facts, then runs the plan.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generatedData map[string]interface{}) error {
	c := &p.config
	r := &runner.Runner{UI: ui, Comm: comm, Name: "node-carnivore", Env: c.env(), Secrets: c.secrets()}
	user := c.InstanceUser
	if user == "" {
		var err error
		if user, err = r.LoginUser(ctx, generatedData); err != nil {
			return err
		}
		ui.Say(fmt.Sprintf("node-carnivore: instance_user defaults to the communicator's user %q", user))
	}
	out, err := r.Output(ctx, "getent passwd "+shell.Quote(user)+" | cut -d: -f6; id -gn "+shell.Quote(user))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "/") {
		return fmt.Errorf("instance_user: user %q does not exist on the machine (%v)", user, err)
	}
	pl, err := c.Plan(Facts{User: user, Home: lines[0], Group: lines[1]})
	if err != nil {
		return err
	}
	return r.Run(ctx, pl)
}
