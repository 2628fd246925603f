//go:generate packer-sdc mapstructure-to-hcl2 -type Config
//go:generate packer-sdc struct-markdown

// Package primal is the node-primal provisioner: it makes the reusable base
// image of a Node.js app (the seed's "primal"): OS packages, nginx, kernel
// tuning, and later Node.js, the port redirect and the dependency precache.
package primal

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

	"github.com/nodebake/packer-plugin-node/internal/runner"
)

// DefaultPackages are the seed's essentials: git for git dependencies, make
// and g++ for native addons, graphicsmagick for image work, curl.
var DefaultPackages = []string{"git", "make", "g++", "graphicsmagick", "curl"}

// Config is the node-primal provisioner's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The user the app and nginx run as on the image (the seed's
	// INSTANCE_USER). It must already exist. Defaults to the user the
	// communicator logs in as (for example `admin` on Debian cloud images);
	// when that is root, set this to an unprivileged user.
	InstanceUser string `mapstructure:"instance_user" required:"false"`
	// Debian packages to install. Defaults to the seed's
	// `["git", "make", "g++", "graphicsmagick", "curl"]`. Setting it replaces
	// the defaults; use `extra_packages` to add to them. A name may carry a
	// version (`curl=7.88.1-10+deb12u8`) or a release (`curl/bookworm-backports`).
	Packages []string `mapstructure:"packages" required:"false"`
	// Debian packages to install in addition to `packages`.
	ExtraPackages []string `mapstructure:"extra_packages" required:"false"`
	// The value of `net.ipv4.tcp_slow_start_after_idle`. Defaults to `false`
	// (0): a keep-alive connection that was idle keeps its congestion window,
	// which makes bursty HTTP traffic faster. Unlike the seed's `sysctl -w`,
	// the setting is persisted in `/etc/sysctl.d/60-node-primal.conf` and so
	// survives reboots.
	TCPSlowStartAfterIdle bool `mapstructure:"tcp_slow_start_after_idle" required:"false"`
	// More kernel settings to persist in the same file, as
	// `{ "net.core.somaxconn" = "1024" }`. They override the built-in ones.
	Sysctl map[string]string `mapstructure:"sysctl" required:"false"`
	// How long to wait for another process (cloud-init, unattended-upgrades)
	// to release the dpkg lock before failing. Defaults to `10m`.
	DpkgLockTimeout time.Duration `mapstructure:"dpkg_lock_timeout" required:"false"`

	ctx interpolate.Context
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
		PluginType:         "node-primal",
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	p.config.setDefaults()
	return p.config.validate()
}

// Provision runs the plan on the machine behind comm.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generatedData map[string]interface{}) error {
	r := &runner.Runner{UI: ui, Comm: comm, Name: "node-primal"}
	user := p.config.InstanceUser
	if user == "" {
		var err error
		if user, err = loginUser(ctx, r, generatedData); err != nil {
			return err
		}
		ui.Say(fmt.Sprintf("node-primal: instance_user defaults to the communicator's user %q", user))
	}
	pl, err := p.config.Plan(user)
	if err != nil {
		return err
	}
	return r.Run(ctx, pl)
}

// loginUser is the user the communicator logs in as: Packer hands it to
// provisioners as the build's "User"; when a builder does not, ask the target.
func loginUser(ctx context.Context, r *runner.Runner, generatedData map[string]interface{}) (string, error) {
	if u, ok := generatedData["User"].(string); ok && u != "" && !strings.HasPrefix(u, "<") {
		if err := validUser(u); err != nil {
			return "", fmt.Errorf("instance_user: the communicator's user %v; set instance_user", err)
		}
		return u, nil
	}
	out, err := r.Output(ctx, "id -un")
	if err != nil {
		return "", fmt.Errorf("instance_user: cannot learn the communicator's user: %w", err)
	}
	u := strings.TrimSpace(out)
	if err := validUser(u); err != nil {
		return "", fmt.Errorf("instance_user: the communicator's user %v; set instance_user", err)
	}
	return u, nil
}
