//go:generate packer-sdc struct-markdown
//go:generate packer-sdc mapstructure-to-hcl2 -type Config,AssumeRoleConfig,DatasourceOutput

// Package ami implements the node-ami data source: it finds the newest
// primal (or carnivore) machine image of an application on Amazon EC2, so
// templates can write `source_ami = data.node-ami.primal.id` instead of
// pasting an AMI ID.
package ami

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
)

// Roles an image can have, as named by the node-primal and node-carnivore
// provisioners' images.
const (
	RolePrimal    = "primal"
	RoleCarnivore = "carnivore"
)

// AssumeRoleConfig lets Packer assume an IAM role (through STS AssumeRole)
// with the credentials it found, before it looks the image up. This is the
// `assume_role` block of the amazon plugin, reduced to the options that
// matter for a read-only look-up.
type AssumeRoleConfig struct {
	// Amazon Resource Name (ARN) of the IAM role to assume, such as
	// `arn:aws:iam::123456789012:role/image-reader`. Required when the
	// `assume_role` block is given.
	RoleARN string `mapstructure:"role_arn" required:"false"`
	// Session name to use when assuming the role. Defaults to a name
	// chosen by the AWS SDK (`aws-go-sdk-<timestamp>`).
	SessionName string `mapstructure:"session_name" required:"false"`
	// The external ID to pass to the AssumeRole call, when the role's trust
	// policy requires one. If omitted, no external ID is passed.
	ExternalID string `mapstructure:"external_id" required:"false"`
	// Number of seconds the assumed-role session lasts, between 900 and
	// 43200. Defaults to the AWS SDK's 15 minutes, plenty for one look-up.
	DurationSeconds int `mapstructure:"duration_seconds" required:"false"`
}

func (a AssumeRoleConfig) empty() bool {
	return a.RoleARN == "" && a.SessionName == "" && a.ExternalID == "" && a.DurationSeconds == 0
}

// Config is the configuration of the node-ami data source.
type Config struct {
	// The application name the images were baked for, as in the image names
	// `<app_name>-primal <timestamp>` and
	// `<app_name>-carnivore-<environment> <timestamp>`. Letters, digits,
	// `.`, `_` and `-`, starting with a letter or digit, at most 64
	// characters. Required unless `name` is set.
	AppName string `mapstructure:"app_name" required:"false"`
	// Which image to find: `primal` (the base image built by node-primal,
	// named `<app_name>-primal <timestamp>`) or `carnivore` (the app image
	// built by node-carnivore, named
	// `<app_name>-carnivore-<environment> <timestamp>`). Defaults to
	// `primal`.
	Role string `mapstructure:"role" required:"false"`
	// The environment (`NODE_ENV`) a carnivore image was built for, such as
	// `production`. Required when `role = "carnivore"` and `name` is not
	// set; not allowed with `role = "primal"`. Same characters as
	// `app_name`.
	Environment string `mapstructure:"environment" required:"false"`
	// An image name pattern that overrides the naming convention above.
	// EC2 wildcards apply: `*` matches any characters and `?` matches one,
	// for example `ponyfoo-primal-arm *`. When set, `app_name`, `role` and
	// `environment` are not used to build the pattern.
	Name string `mapstructure:"name" required:"false"`
	// Filters the images by their owner: AWS account IDs, `self` (the
	// account whose credentials Packer uses) or an owner alias such as
	// `amazon`. Defaults to `["self"]`.
	Owners []string `mapstructure:"owners" required:"false"`
	// Tags the image must carry; every key must be present with exactly
	// the given value (sent as `tag:<key>` filters). For example
	// `{ app = "ponyfoo", stage = "approved" }`.
	Tags map[string]string `mapstructure:"tags" required:"false"`
	// Only consider images with this fingerprint (the `node:fingerprint`
	// tag), as the node-fingerprint data source computes it:
	// `fingerprint = data.node-fingerprint.app.fingerprint` finds the
	// newest primal image whose precache matches the app. When there is
	// none, the error says so, names the newest image that matches without
	// it, and, with `fingerprint_parts`, which parts of its fingerprint
	// differ (read from its `node:fingerprint:<part>` tags), so a pipeline
	// can build a primal image only when it must (see the CI recipe in
	// `example/aws/ci-build.sh`).
	Fingerprint string `mapstructure:"fingerprint" required:"false"`
	// The parts of `fingerprint`, as node-fingerprint outputs them
	// (`data.node-fingerprint.app.parts`): used only to explain a miss.
	// Requires `fingerprint`.
	FingerprintParts map[string]string `mapstructure:"fingerprint_parts" required:"false"`
	// Only consider images of this architecture: `i386`, `x86_64`,
	// `arm64`, `x86_64_mac` or `arm64_mac`. Defaults to any architecture.
	Architecture string `mapstructure:"architecture" required:"false"`
	// Include deprecated images in the search. Defaults to `false`: an
	// image whose deprecation time has passed is skipped, even one of your
	// own account (which EC2 itself would still return), so deprecating a
	// bad image is enough to stop builds from using it.
	IncludeDeprecated bool `mapstructure:"include_deprecated" required:"false"`

	// The name of the region to search, such as `us-east-1`. Required: it
	// is not read from the environment or a profile, so that a template
	// always says where its images come from (use a variable with
	// `default = env("AWS_REGION")` to take it from the environment).
	Region string `mapstructure:"region" required:"true"`
	// The access key used to communicate with AWS. Optional: when neither
	// `access_key` nor `secret_key` is set, credentials come from the AWS
	// SDK's default chain (the `AWS_ACCESS_KEY_ID` family of environment
	// variables, the shared config and credentials files with `profile`,
	// SSO, web identity, then the instance's role through IMDS). Sensitive:
	// Packer's plugin output masks it; pass it in a `sensitive` variable.
	AccessKey string `mapstructure:"access_key" required:"false"`
	// The secret key used to communicate with AWS. Required when
	// `access_key` is set. Sensitive, like `access_key`.
	SecretKey string `mapstructure:"secret_key" required:"false"`
	// The session token that goes with temporary `access_key` and
	// `secret_key`. Sensitive, like `access_key`.
	Token string `mapstructure:"token" required:"false"`
	// The profile to use from the shared config and credentials files
	// (`~/.aws/config`, `~/.aws/credentials`), including SSO profiles.
	// Defaults to `AWS_PROFILE`, then `default`.
	Profile string `mapstructure:"profile" required:"false"`
	// Path to a shared credentials file to read instead of
	// `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).
	SharedCredentialsFile string `mapstructure:"shared_credentials_file" required:"false"`
	// If given, Packer assumes this IAM role with the credentials above
	// before looking the image up. See [AssumeRoleConfig](#assume-role-configuration).
	AssumeRole AssumeRoleConfig `mapstructure:"assume_role" required:"false"`
	// An EC2 endpoint to use instead of AWS's, for an EC2-compatible cloud
	// or a local fake: an absolute `http://` or `https://` URL such as
	// `https://ec2.custom.endpoint.com`. The `AWS_ENDPOINT_URL_EC2`
	// environment variable does the same without a template change.
	CustomEndpointEc2 string `mapstructure:"custom_endpoint_ec2" required:"false"`
	// The maximum number of attempts for each AWS API call, first one
	// included, when AWS throttles (`RequestLimitExceeded`) or fails
	// transiently; the delay between attempts grows exponentially. Defaults
	// to the AWS SDK's (3, or `AWS_MAX_ATTEMPTS`).
	MaxRetries int `mapstructure:"max_retries" required:"false"`
	// How long the whole look-up may take, as a duration such as `90s` or
	// `5m`: loading the AWS configuration, finding the credentials
	// (assuming the role, with `assume_role`) and reading every page of
	// `DescribeImages`, retries included. When it runs out, the build stops
	// with an error that names the endpoint that did not answer, rather
	// than waiting forever on an endpoint that accepts connections but
	// never replies. Each HTTP attempt is bounded as well: 10 seconds to
	// connect, 10 seconds for the TLS handshake, 30 seconds until the
	// response headers arrive and 30 seconds of silence while the response
	// is read; an attempt that fails so is retried, up to `max_retries`,
	// while time remains. Defaults to `2m`; must not be negative (`0`
	// means the default).
	Timeout time.Duration `mapstructure:"timeout" required:"false"`
}

// DatasourceOutput is what `data.node-ami.<name>` evaluates to.
type DatasourceOutput struct {
	// The ID of the newest matching image, such as `ami-0123456789abcdef0`.
	ID string `mapstructure:"id"`
	// The image's name, such as `ponyfoo-primal 1700000000`.
	Name string `mapstructure:"name"`
	// When the image was created, as EC2 reports it (ISO 8601, UTC, with
	// milliseconds: `2021-09-29T11:04:43.305Z`).
	CreationDate string `mapstructure:"creation_date"`
	// The AWS account ID that owns the image.
	OwnerID string `mapstructure:"owner_id"`
	// The image's architecture, such as `x86_64` or `arm64`.
	Architecture string `mapstructure:"architecture"`
	// The image's tags, as a map from key to value.
	Tags map[string]string `mapstructure:"tags"`
}

// unknownValue is what Packer passes for a string not known yet: a
// `packer validate` that does not run data sources configures this one with
// `fingerprint = data.node-fingerprint.app.fingerprint` set to it
// (hcl2template/shim.WriteUnknownPlaceholderValues). Execute never sees it.
const unknownValue = "<unknown>"

// DefaultTimeout bounds the whole look-up when `timeout` is not set.
const DefaultTimeout = 2 * time.Minute

// Datasource is the node-ami data source.
type Datasource struct {
	config Config
}

var (
	// identRe is the grammar of app_name and environment: they become part
	// of an EC2 name pattern, so they must not hold wildcards.
	identRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

	architectures = []string{"i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"}
)

// ConfigSpec returns the HCL2 spec of the data source's configuration.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec {
	return d.config.FlatMapstructure().HCL2Spec()
}

// OutputSpec returns the HCL2 spec of the data source's output.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes the configuration, applies the defaults and validates
// every field, reporting all the problems at once.
func (d *Datasource) Configure(raws ...interface{}) error {
	if err := config.Decode(&d.config, nil, raws...); err != nil {
		return err
	}
	c := &d.config

	// Mask the credentials in anything this plugin prints through Packer's
	// UI, before any validation error could mention them.
	packersdk.LogSecretFilter.Set(c.AccessKey, c.SecretKey, c.Token)

	if c.Role == "" {
		c.Role = RolePrimal
	}
	if len(c.Owners) == 0 {
		c.Owners = []string{"self"}
	}

	var errs *packersdk.MultiError
	add := func(field, format string, args ...interface{}) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}

	switch c.Role {
	case RolePrimal, RoleCarnivore:
	default:
		add("role", "must be %q or %q, got %q", RolePrimal, RoleCarnivore, c.Role)
	}

	if c.Name != "" {
		if strings.TrimSpace(c.Name) == "" {
			add("name", "must not be blank")
		} else if len(c.Name) > 128 {
			add("name", "must be at most 128 characters (the longest an image name can be), got %d", len(c.Name))
		}
	}
	if c.AppName == "" {
		if c.Name == "" {
			add("app_name", "is required unless name is set")
		}
	} else if !identRe.MatchString(c.AppName) {
		add("app_name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got %q", c.AppName)
	}
	if c.Environment == "" {
		if c.Role == RoleCarnivore && c.Name == "" {
			add("environment", "is required when role is %q (images are named <app_name>-carnivore-<environment> <timestamp>)", RoleCarnivore)
		}
	} else {
		if !identRe.MatchString(c.Environment) {
			add("environment", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, got %q", c.Environment)
		}
		if c.Role == RolePrimal {
			add("environment", "only applies to role %q; primal images are shared by every environment", RoleCarnivore)
		}
	}

	for i, o := range c.Owners {
		if strings.TrimSpace(o) == "" || strings.ContainsAny(o, " \t\r\n") {
			add("owners", "entry %d must be an account ID, \"self\" or an owner alias, got %q", i, o)
		}
	}
	for _, k := range sortedKeys(c.Tags) {
		if strings.TrimSpace(k) == "" {
			add("tags", "keys must not be blank")
		}
	}
	if c.Fingerprint != "" {
		if err := fingerprint.Valid(c.Fingerprint); err != nil && c.Fingerprint != unknownValue {
			add("fingerprint", "%v", err)
		}
		if _, ok := c.Tags[fingerprint.TagKey]; ok {
			add("tags", "must not hold %q: set fingerprint instead", fingerprint.TagKey)
		}
	}
	if len(c.FingerprintParts) > 0 && c.Fingerprint == "" {
		add("fingerprint_parts", "needs fingerprint: the parts only explain a fingerprint that matched no image")
	}
	for _, k := range sortedKeys(c.FingerprintParts) {
		if !contains(fingerprint.Names, k) {
			add("fingerprint_parts", "%q is not a part of a fingerprint (%s)", k, strings.Join(fingerprint.Names, ", "))
		}
	}
	if c.Architecture != "" && !contains(architectures, c.Architecture) {
		add("architecture", "must be one of %s, got %q", strings.Join(architectures, ", "), c.Architecture)
	}

	if c.Region == "" {
		add("region", "is required (for example \"us-east-1\")")
	} else if !regionRe.MatchString(c.Region) {
		add("region", "must be an AWS region name such as \"us-east-1\", got %q", c.Region)
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		add("access_key", "access_key and secret_key must be set together or not at all")
	}
	if c.Token != "" && c.AccessKey == "" {
		add("token", "is only used together with access_key and secret_key")
	}
	if c.SharedCredentialsFile != "" {
		if fi, err := os.Stat(c.SharedCredentialsFile); err != nil {
			add("shared_credentials_file", "cannot be read: %v", err)
		} else if fi.IsDir() {
			add("shared_credentials_file", "%q is a directory, not a file", c.SharedCredentialsFile)
		}
	}
	if !c.AssumeRole.empty() {
		switch {
		case c.AssumeRole.RoleARN == "":
			add("assume_role.role_arn", "is required when the assume_role block is given")
		case !strings.HasPrefix(c.AssumeRole.RoleARN, "arn:"):
			add("assume_role.role_arn", "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got %q", c.AssumeRole.RoleARN)
		}
		if ds := c.AssumeRole.DurationSeconds; ds != 0 && (ds < 900 || ds > 43200) {
			add("assume_role.duration_seconds", "must be between 900 and 43200, got %d", ds)
		}
	}
	if c.CustomEndpointEc2 != "" {
		u, err := url.Parse(c.CustomEndpointEc2)
		switch {
		case err != nil:
			add("custom_endpoint_ec2", "is not a URL: %v", err)
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			add("custom_endpoint_ec2", "must be an absolute http:// or https:// URL, got %q", c.CustomEndpointEc2)
		}
	}
	if c.MaxRetries < 0 {
		add("max_retries", "must not be negative, got %d", c.MaxRetries)
	}
	switch {
	case c.Timeout < 0:
		add("timeout", "must not be negative, got %s", c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}

	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// NamePattern is the EC2 name pattern the configuration searches for.
func (c *Config) NamePattern() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Role == RoleCarnivore {
		return fmt.Sprintf("%s-carnivore-%s *", c.AppName, c.Environment)
	}
	return fmt.Sprintf("%s-primal *", c.AppName)
}

// Execute finds the newest matching image.
func (d *Datasource) Execute() (cty.Value, error) {
	out, err := execute(context.Background(), &d.config)
	if err != nil {
		return cty.NullVal(cty.EmptyObject), err
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
