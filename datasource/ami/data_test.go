package ami

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

var _ packersdk.Datasource = (*Datasource)(nil)

// configureHCL decodes src through the generated HCL2 spec, the way Packer
// does for a `data "node-ami"` block, then configures a data source.
func configureHCL(t *testing.T, src string) (*Datasource, error) {
	t.Helper()
	file, diags := hclsyntax.ParseConfig([]byte(src), "test.pkr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	d := &Datasource{}
	val, diags := hcldec.Decode(file.Body, d.ConfigSpec(), nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags)
	}
	return d, d.Configure(val)
}

func mustConfigure(t *testing.T, src string) *Datasource {
	t.Helper()
	d, err := configureHCL(t, src)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return d
}

func TestConfigureDefaults(t *testing.T) {
	d := mustConfigure(t, `
app_name = "ponyfoo"
region   = "us-east-1"
`)
	c := d.config
	if c.Role != RolePrimal {
		t.Errorf("Role = %q, want %q", c.Role, RolePrimal)
	}
	if !reflect.DeepEqual(c.Owners, []string{"self"}) {
		t.Errorf("Owners = %q, want [self]", c.Owners)
	}
	if c.IncludeDeprecated {
		t.Error("IncludeDeprecated defaults to true")
	}
	if c.Timeout != 2*time.Minute {
		t.Errorf("Timeout = %s, want the documented default 2m", c.Timeout)
	}
	if got := c.NamePattern(); got != "ponyfoo-primal *" {
		t.Errorf("NamePattern = %q", got)
	}
}

func TestConfigureDecodesEveryOption(t *testing.T) {
	credsFile := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credsFile, []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustConfigure(t, `
app_name           = "ponyfoo"
role               = "carnivore"
environment        = "production"
owners             = ["self", "123456789012"]
tags               = { app = "ponyfoo", stage = "approved" }
architecture       = "arm64"
include_deprecated = true
region             = "eu-west-2"
access_key         = "AKIDDECODE"
secret_key         = "decode-secret"
token              = "decode-token"
profile            = "ops"
shared_credentials_file = "`+credsFile+`"
custom_endpoint_ec2 = "http://127.0.0.1:9/"
max_retries        = 7
timeout            = "45s"
assume_role {
  role_arn         = "arn:aws:iam::123456789012:role/image-reader"
  session_name     = "packer"
  external_id      = "ext-1"
  duration_seconds = 1800
}
`)
	want := Config{
		AppName: "ponyfoo", Role: "carnivore", Environment: "production",
		Owners:       []string{"self", "123456789012"},
		Tags:         map[string]string{"app": "ponyfoo", "stage": "approved"},
		Architecture: "arm64", IncludeDeprecated: true, Region: "eu-west-2",
		AccessKey: "AKIDDECODE", SecretKey: "decode-secret", Token: "decode-token",
		Profile: "ops", SharedCredentialsFile: credsFile,
		CustomEndpointEc2: "http://127.0.0.1:9/", MaxRetries: 7, Timeout: 45 * time.Second,
		AssumeRole: AssumeRoleConfig{
			RoleARN: "arn:aws:iam::123456789012:role/image-reader", SessionName: "packer",
			ExternalID: "ext-1", DurationSeconds: 1800,
		},
	}
	if !reflect.DeepEqual(d.config, want) {
		t.Errorf("decoded config\n got %+v\nwant %+v", d.config, want)
	}
	if got := d.config.NamePattern(); got != "ponyfoo-carnivore-production *" {
		t.Errorf("NamePattern = %q", got)
	}
}

func TestNamePatternOverridesConvention(t *testing.T) {
	d := mustConfigure(t, `
name   = "legacy-base-??? *"
role   = "carnivore"
region = "us-east-1"
`)
	if got := d.config.NamePattern(); got != "legacy-base-??? *" {
		t.Errorf("NamePattern = %q", got)
	}
}

func TestConfigureCollectsEveryError(t *testing.T) {
	_, err := configureHCL(t, `
role         = "omnivore"
environment  = "prod uction"
owners       = ["self", ""]
architecture = "sparc"
region       = "Mars 1"
access_key   = "AKIDONLY"
custom_endpoint_ec2 = "ec2.local:8080"
max_retries  = -1
timeout      = "-5s"
tags = { "" = "x" }
assume_role {
  external_id      = "no-arn"
  duration_seconds = 60
}
`)
	if err == nil {
		t.Fatal("Configure accepted an invalid configuration")
	}
	for _, want := range []string{
		`role: must be "primal" or "carnivore", got "omnivore"`,
		"app_name: is required unless name is set",
		`environment: must be 1-64 letters`,
		`owners: entry 1`,
		`architecture: must be one of i386, x86_64, arm64, x86_64_mac, arm64_mac, got "sparc"`,
		`region: must be an AWS region name such as "us-east-1", got "Mars 1"`,
		"access_key: access_key and secret_key must be set together",
		"custom_endpoint_ec2: must be an absolute http:// or https:// URL",
		"max_retries: must not be negative",
		"timeout: must not be negative, got -5s",
		"tags: keys must not be blank",
		"assume_role.role_arn: is required when the assume_role block is given",
		"assume_role.duration_seconds: must be between 900 and 43200, got 60",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// The access key is masked in what the plugin prints, even in a
	// configuration that did not validate.
	if got := packersdk.LogSecretFilter.FilterString("key AKIDONLY"); got != "key <sensitive>" {
		t.Errorf("access_key not masked: %q", got)
	}
}

func TestConfigureRules(t *testing.T) {
	cases := []struct {
		name, src string
		wantErr   string // "" means valid
	}{
		{"missing region", `app_name = "ponyfoo"`, "region: is required"},
		{"carnivore needs environment", `
app_name = "ponyfoo"
role     = "carnivore"
region   = "us-east-1"`, `environment: is required when role is "carnivore"`},
		{"primal refuses environment", `
app_name    = "ponyfoo"
environment = "production"
region      = "us-east-1"`, `environment: only applies to role "carnivore"`},
		{"app_name grammar refuses wildcards", `
app_name = "pony*"
region   = "us-east-1"`, `app_name: must be 1-64 letters`},
		{"app_name grammar refuses spaces", `
app_name = "pony foo"
region   = "us-east-1"`, `app_name: must be 1-64 letters`},
		{"app_name too long", `
app_name = "` + strings.Repeat("a", 65) + `"
region   = "us-east-1"`, `app_name: must be 1-64 letters`},
		{"name alone is enough", `
name   = "anything *"
region = "us-east-1"`, ""},
		{"name with carnivore needs no environment", `
name   = "anything *"
role   = "carnivore"
region = "us-east-1"`, ""},
		{"blank name", `
name   = "   "
region = "us-east-1"`, "name: must not be blank"},
		{"token without keys", `
app_name = "ponyfoo"
region   = "us-east-1"
token    = "token-without-keys-xyz"`, "token: is only used together with access_key and secret_key"},
		{"secret without access key", `
app_name   = "ponyfoo"
region     = "us-east-1"
secret_key = "secret-without-access-key-xyz"`, "access_key: access_key and secret_key must be set together"},
		{"role_arn must be an ARN", `
app_name = "ponyfoo"
region   = "us-east-1"
assume_role { role_arn = "image-reader" }`, "assume_role.role_arn: must be an IAM role ARN"},
		{"missing credentials file", `
app_name = "ponyfoo"
region   = "us-east-1"
shared_credentials_file = "/nonexistent/node-ami/credentials"`, "shared_credentials_file: cannot be read"},
		{"gov region", `
app_name = "ponyfoo"
region   = "us-gov-west-1"`, ""},
		{"every architecture value", `
app_name     = "ponyfoo"
region       = "us-east-1"
architecture = "x86_64_mac"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configureHCL(t, tc.src)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q lacks %q", err, tc.wantErr)
			}
		})
	}
}

// A bad timeout is refused when the template is validated, naming the
// field, not when the lookup runs.
func TestConfigureTimeout(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration // when valid
		wantErr []string      // all of these in the error
	}{
		{value: "90s", want: 90 * time.Second},
		{value: "1h30m", want: 90 * time.Minute},
		{value: "0s", want: DefaultTimeout},
		{value: "-1s", wantErr: []string{"timeout: must not be negative, got -1s"}},
		{value: "-2m", wantErr: []string{"timeout: must not be negative, got -2m0s"}},
		{value: "soon", wantErr: []string{"'timeout'", `invalid duration "soon"`}},
		{value: "90", wantErr: []string{"'timeout'", `missing unit in duration "90"`}},
		{value: "", wantErr: []string{"'timeout'", `invalid duration ""`}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			d, err := configureHCL(t, `
app_name = "ponyfoo"
region   = "us-east-1"
timeout  = "`+tc.value+`"
`)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				if d.config.Timeout != tc.want {
					t.Errorf("Timeout = %s, want %s", d.config.Timeout, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Configure accepted timeout = %q (as %s)", tc.value, d.config.Timeout)
			}
			t.Logf("timeout = %q: %v", tc.value, err)
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestCredentialsAreMasked(t *testing.T) {
	mustConfigure(t, `
app_name   = "ponyfoo"
region     = "us-east-1"
access_key = "AKIDMASKME"
secret_key = "mask-me-secret"
token      = "mask-me-token"
`)
	for _, s := range []string{"AKIDMASKME", "mask-me-secret", "mask-me-token"} {
		if got := packersdk.LogSecretFilter.FilterString("x " + s + " y"); got != "x <sensitive> y" {
			t.Errorf("%q is not masked: %q", s, got)
		}
	}
}

func TestSpecsNameEveryOption(t *testing.T) {
	d := &Datasource{}
	want := []string{"app_name", "role", "environment", "name", "owners", "tags", "architecture",
		"include_deprecated", "region", "access_key", "secret_key", "token", "profile",
		"shared_credentials_file", "assume_role", "custom_endpoint_ec2", "max_retries", "timeout", "fingerprint", "fingerprint_parts"}
	spec := d.ConfigSpec()
	for _, k := range want {
		if _, ok := spec[k]; !ok {
			t.Errorf("config spec lacks %q", k)
		}
	}
	if len(spec) != len(want) {
		t.Errorf("config spec has %d options, want %d", len(spec), len(want))
	}
	out := d.OutputSpec()
	for _, k := range []string{"id", "name", "creation_date", "owner_id", "architecture", "tags"} {
		if _, ok := out[k]; !ok {
			t.Errorf("output spec lacks %q", k)
		}
	}
}
