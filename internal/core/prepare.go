package core

import (
	"context"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/nodebake/packer-plugin-node/internal/runner"
)

// Settings is a provisioner's Config as Prepare drives it. Each embeds
// Config and calls its SetDefaults and Validate from its own.
type Settings interface {
	// SetDefaults fills in every default; it reads no file.
	SetDefaults()
	// Load reads the local files the build uploads, so a missing or
	// malformed one fails `packer validate`.
	Load(add AddFunc)
	// Validate checks every field; it reads no file.
	Validate(add AddFunc)
	// Secrets are the values never to show (scrubbed from logs and output).
	Secrets() []string
}

// Prepare is both provisioners' Prepare: decode raws into s (interpolated
// with ctx), apply the defaults, load the local files, then validate,
// reporting every mistake at once, each naming its field. Secrets are
// scrubbed from the plugin's logs before validation, so no error can leak
// one.
func Prepare(pluginType string, s Settings, ctx *interpolate.Context, raws ...interface{}) error {
	err := config.Decode(s, &config.DecodeOpts{
		PluginType:         pluginType,
		Interpolate:        true,
		InterpolateContext: ctx,
	}, raws...)
	if err != nil {
		return err
	}
	s.SetDefaults()
	var errs Errors
	s.Load(errs.Add)
	packersdk.LogSecretFilter.Set(s.Secrets()...)
	s.Validate(errs.Add)
	return errs.Err()
}

// Start begins a provisioner's run: NewRunner, then Facts.
func (c *Config) Start(ctx context.Context, name string, ui packersdk.Ui, comm packersdk.Communicator, secrets []string, user string, create bool) (*runner.Runner, Facts, error) {
	r := c.NewRunner(name, ui, comm, secrets)
	f, err := c.Facts(ctx, r, user, create)
	return r, f, err
}

// NewRunner is the runner that reports to ui as name, with the build's
// environment, and secrets scrubbed from what it shows.
func (c *Config) NewRunner(name string, ui packersdk.Ui, comm packersdk.Communicator, secrets []string) *runner.Runner {
	return &runner.Runner{UI: ui, Comm: comm, Name: name, Env: c.Env(), Secrets: secrets}
}

// Facts reads the machine's facts for the instance user user (see
// ReadFacts for create) and checks the settings only they can check.
func (c *Config) Facts(ctx context.Context, r *runner.Runner, user string, create bool) (Facts, error) {
	f, err := c.ReadFacts(ctx, r, user, create)
	if err == nil {
		err = c.CheckPrecacheDir(f)
	}
	return f, err
}
