//go:generate packer-sdc struct-markdown
//go:generate packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

// Package fingerprint implements the node-fingerprint data source: on the
// Packer host, before any machine starts, it computes the fingerprint of
// the primal image node-primal would make from the same settings (see
// internal/fingerprint for what it is made of), so a pipeline can look the
// matching primal image up (node-ami's fingerprint) and build one only
// when there is none.
package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodebake/packer-plugin-node/internal/core"
	fp "github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/validate"
	"github.com/nodebake/packer-plugin-node/provisioner/primal"
)

// Config takes node-primal's settings that change what a primal image
// holds, under the same names and with the same defaults: give both the
// same values (variables or locals shared by the two blocks) and they
// compute the same fingerprint.
type Config struct {
	// As node-primal's `packages`: the OS packages. Defaults to node-primal's
	// defaults.
	Packages []string `mapstructure:"packages" required:"false"`
	// As node-primal's `extra_packages`.
	ExtraPackages []string `mapstructure:"extra_packages" required:"false"`
	// As node-primal's `node_installer`: `tarball` (default), `nvm` or
	// `distro`.
	NodeInstaller string `mapstructure:"node_installer" required:"false"`
	// As node-primal's `node_version`: exact (`22.12.0`), a major (`22`) or
	// `lts` (the default). A major or `lts` is resolved to the exact
	// release through `node_mirror`'s `index.json`, read from the Packer
	// host, as node-primal resolves it on the machine. When the host cannot
	// read it (a mirror reachable only from the build's network), the data
	// source fails, naming the mirror: pin an exact version in both blocks
	// then, since a fingerprint must name the exact release. An exact
	// version needs no network. Not allowed with `node_installer =
	// "distro"`.
	NodeVersion string `mapstructure:"node_version" required:"false"`
	// As node-primal's `node_mirror`. Defaults to `https://nodejs.org/dist`.
	// Credentials in the URL are sent as HTTP basic authentication and
	// never shown.
	NodeMirror string `mapstructure:"node_mirror" required:"false"`
	// As node-primal's `package_json`: the app's `package.json`, whose
	// lockfile (or, without one, itself) is part of the fingerprint.
	PackageJSON string `mapstructure:"package_json" required:"false"`
	// As node-primal's `lockfile`. Defaults to `package-lock.json` or
	// `npm-shrinkwrap.json` next to `package_json`.
	Lockfile string `mapstructure:"lockfile" required:"false"`
	// The architecture of the machines the primal image is built on, as
	// EC2 names it: `x86_64` (default) or `arm64`. node-primal reads it
	// from the machine (`uname -m`).
	Architecture string `mapstructure:"architecture" required:"false"`
	// How long resolving `node_version` may take, retries included, as a
	// duration such as `30s`. Each attempt has 10 seconds to connect and 30
	// seconds until the answer's headers; a failed attempt is retried
	// twice, after 1 and 2 seconds. Defaults to `1m`.
	Timeout time.Duration `mapstructure:"timeout" required:"false"`
}

// DatasourceOutput is what `data.node-fingerprint.<name>` evaluates to.
type DatasourceOutput struct {
	// The fingerprint: 64 hex digits.
	Fingerprint string `mapstructure:"fingerprint"`
	// The parts it was made of: `recipe`, `architecture`, `node` (such as
	// `tarball/22.12.0`), `packages` (a hash of the package list) and
	// `dependencies` (such as `package-lock.json:<sha256>`).
	Parts map[string]string `mapstructure:"parts"`
	// Image tags that record the fingerprint and its parts:
	// `node:fingerprint` and `node:fingerprint:<part>`. Merge them into the
	// primal image's tags (`tags = merge({...},
	// data.node-fingerprint.app.tags)`), so node-ami's `fingerprint` finds
	// the image and, when it finds none, says which part differs.
	Tags map[string]string `mapstructure:"tags"`
	// The exact Node.js version the fingerprint names (`22.12.0`); empty
	// for `node_installer = "distro"`.
	NodeVersion string `mapstructure:"node_version"`
}

// DefaultTimeout bounds resolving node_version when timeout is not set.
const DefaultTimeout = time.Minute

// Datasource is the node-fingerprint data source.
type Datasource struct {
	config Config
	primal primal.Config
}

// ConfigSpec returns the HCL2 spec of the data source's configuration.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec { return d.config.FlatMapstructure().HCL2Spec() }

// OutputSpec returns the HCL2 spec of the data source's output.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes the configuration and checks it as node-primal checks
// the same settings, reporting every mistake at once, each naming its
// field.
func (d *Datasource) Configure(raws ...interface{}) error {
	if err := config.Decode(&d.config, nil, raws...); err != nil {
		return err
	}
	c := &d.config
	if c.Architecture == "" {
		c.Architecture = "x86_64"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	d.primal = primal.Config{
		Packages: c.Packages, ExtraPackages: c.ExtraPackages,
		NodeInstaller: c.NodeInstaller, NodeVersion: c.NodeVersion, NodeMirror: c.NodeMirror,
		PackageJSON: c.PackageJSON, Lockfile: c.Lockfile,
	}
	p := &d.primal
	p.SetDefaults()
	var errs core.Errors
	p.Load(errs.Add)
	packersdk.LogSecretFilter.Set(core.URLCredentials(p.NodeMirror)...)
	p.Validate(errs.Add)
	if !slices.Contains(fp.Architectures, c.Architecture) {
		errs.Add("architecture", "must be one of %s, got %q", strings.Join(fp.Architectures, ", "), c.Architecture)
	}
	if c.Timeout < 0 {
		errs.Add("timeout", "must not be negative, got %s", c.Timeout)
	}
	return errs.Err()
}

// Execute resolves node_version when it is not exact, then computes the
// fingerprint.
func (d *Datasource) Execute() (cty.Value, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.config.Timeout)
	defer cancel()
	out, err := d.compute(ctx, newClient())
	if err != nil {
		return cty.NullVal(cty.EmptyObject), err
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}

func (d *Datasource) compute(ctx context.Context, client *http.Client) (*DatasourceOutput, error) {
	v, err := d.resolve(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("node-fingerprint: %w", err)
	}
	f := d.primal.Fingerprint(d.config.Architecture, v)
	return &DatasourceOutput{Fingerprint: f.Value, Parts: f.Parts, Tags: f.Tags(), NodeVersion: v}, nil
}

// resolve returns the exact version of node_version: itself when exact,
// else the newest match in the mirror's index.json for the architecture.
func (d *Datasource) resolve(ctx context.Context, client *http.Client) (string, error) {
	p := &d.primal
	if p.NodeInstaller == "distro" {
		return "", nil
	}
	if v, ok := nodejs.Exact(p.NodeVersion); ok {
		return v, nil
	}
	platform, err := nodejs.Platform(fp.Machine(d.config.Architecture))
	if err != nil {
		return "", err
	}
	u := p.NodeMirror + "/index.json"
	index, err := get(ctx, client, u)
	if err != nil {
		return "", fmt.Errorf("node_version %q must be resolved to an exact release through %s, which this host cannot read: %w; where only the build's machines reach the mirror, set an exact node_version in both node-fingerprint and node-primal",
			p.NodeVersion, validate.Redacted(u), err)
	}
	return nodejs.Resolve(index, p.NodeVersion, platform)
}

// attempts and backoff bound get's retries.
var (
	attempts = 3
	backoff  = time.Second
)

// get reads u, retrying a failed attempt (no answer, or a 5xx or 429)
// after backoff, 2×backoff, ... while ctx allows.
func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w (after %d attempts; last: %v)", ctx.Err(), i, last)
			case <-time.After(backoff << (i - 1)):
			}
		}
		b, retry, err := getOnce(ctx, client, u)
		if err == nil {
			return b, nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func getOnce(ctx context.Context, client *http.Client, u string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, errors.New("not a URL")
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold credentials; the caller names it redacted
		}
		return nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return b, err != nil, err
}

// newClient bounds each attempt: 10 s to connect and for the TLS
// handshake, 30 s until the headers; the caller's context bounds the whole.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}
