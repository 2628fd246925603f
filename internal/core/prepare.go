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

// Start begins a provisioner's run: the runner that reports to ui as name,
// with the build's environment and secrets scrubbed, and the machine's
// facts, checked against the settings only they can be checked against.
func (c *Config) Start(ctx context.Context, name string, ui packersdk.Ui, comm packersdk.Communicator, secrets []string, generatedData map[string]interface{}) (*runner.Runner, Facts, error) {
	r := &runner.Runner{UI: ui, Comm: comm, Name: name, Env: c.Env(), Secrets: secrets}
	f, err := c.ReadFacts(ctx, r, generatedData)
	if err == nil {
		err = c.CheckPrecacheDir(f)
	}
	return r, f, err
}
