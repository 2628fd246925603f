package ami

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// configureAgainst configures a data source whose EC2 endpoint is the fake.
func configureAgainst(t *testing.T, f *fakeAWS, extra string) *Datasource {
	t.Helper()
	return mustConfigure(t, fmt.Sprintf(`
region              = %q
custom_endpoint_ec2 = %q
%s
`, testRegion, f.URL(), extra))
}

func TestExecutePagesAndPicksNewest(t *testing.T) {
	pages := [][]fakeImage{
		{
			{ID: "ami-00000000000000001", Name: "ponyfoo-primal 1714557600", Created: "2024-05-01T10:00:00.100Z"},
			{ID: "ami-00000000000000002", Name: "ponyfoo-primal 1714471200", Created: "2024-04-30T10:00:00.000Z"},
		},
		{
			{ID: "ami-00000000000000003", Name: "ponyfoo-primal 1700000000", Created: "2023-11-14T22:13:20.000Z"},
			// Newest: the same second as ami-1, later by milliseconds.
			{ID: "ami-0newest0000000000", Name: "ponyfoo-primal 1714557601", Created: "2024-05-01T10:00:00.900Z",
				Owner: "210987654321", Arch: "arm64", Tags: map[string]string{"app": "ponyfoo", "node": "20"}},
		},
		{
			{ID: "ami-00000000000000005", Name: "ponyfoo-primal 1600000000", Created: "2020-09-13T12:26:40.000Z"},
		},
	}
	// Whatever order EC2 answers in, the newest image wins.
	orders := map[string][][]fakeImage{
		"as served": pages,
		"reversed":  {pages[2], {pages[1][1], pages[1][0]}, {pages[0][1], pages[0][0]}},
		"newest first": {
			{pages[1][1], pages[0][0]}, {pages[0][1], pages[1][0]}, pages[2],
		},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			isolateAWS(t)
			f := newFakeAWS(t)
			f.servePages(order...)
			d := configureAgainst(t, f, `app_name = "ponyfoo"`)

			got, err := d.Execute()
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			want := cty.ObjectVal(map[string]cty.Value{
				"id":            cty.StringVal("ami-0newest0000000000"),
				"name":          cty.StringVal("ponyfoo-primal 1714557601"),
				"creation_date": cty.StringVal("2024-05-01T10:00:00.900Z"),
				"owner_id":      cty.StringVal("210987654321"),
				"architecture":  cty.StringVal("arm64"),
				"tags": cty.MapVal(map[string]cty.Value{
					"app": cty.StringVal("ponyfoo"), "node": cty.StringVal("20"),
				}),
			})
			if !got.RawEquals(want) {
				t.Errorf("output\n got %#v\nwant %#v", got, want)
			}

			reqs := f.actions("DescribeImages")
			if len(reqs) != 3 {
				t.Fatalf("%d DescribeImages requests, want 3 (one a page)", len(reqs))
			}
			for i, r := range reqs {
				if got := r.Form.Get("MaxResults"); got != "1000" {
					t.Errorf("request %d: MaxResults = %q, want 1000", i+1, got)
				}
				if got := r.Form.Get("Version"); got != "2016-11-15" {
					t.Errorf("request %d: Version = %q", i+1, got)
				}
				// Signed with the test credentials for the configured region:
				// nothing came from the developer's AWS setup.
				auth := r.Header.Get("Authorization")
				wantCred := "Credential=" + testAccessKey + "/"
				if !strings.Contains(auth, wantCred) || !strings.Contains(auth, "/"+testRegion+"/ec2/aws4_request") {
					t.Errorf("request %d: Authorization %q not signed with %s for %s/ec2", i+1, auth, testAccessKey, testRegion)
				}
			}
		})
	}
}

func TestExecuteSendsFilters(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.servePages([]fakeImage{{ID: "ami-0f", Name: "ponyfoo-carnivore-production 1", Created: "2024-01-01T00:00:00.000Z"}})
	d := configureAgainst(t, f, `
app_name           = "ponyfoo"
role               = "carnivore"
environment        = "production"
owners             = ["self", "123456789012"]
tags               = { stage = "approved", app = "ponyfoo" }
architecture       = "arm64"
include_deprecated = true
`)
	if _, err := d.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	reqs := f.actions("DescribeImages")
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0].Form
	want := url.Values{
		"Action":            {"DescribeImages"},
		"Version":           {"2016-11-15"},
		"MaxResults":        {"1000"},
		"IncludeDeprecated": {"true"},
		"Owner.1":           {"self"},
		"Owner.2":           {"123456789012"},
		"Filter.1.Name":     {"name"},
		"Filter.1.Value.1":  {"ponyfoo-carnivore-production *"},
		"Filter.2.Name":     {"state"},
		"Filter.2.Value.1":  {"available"},
		"Filter.3.Name":     {"architecture"},
		"Filter.3.Value.1":  {"arm64"},
		"Filter.4.Name":     {"tag:app"},
		"Filter.4.Value.1":  {"ponyfoo"},
		"Filter.5.Name":     {"tag:stage"},
		"Filter.5.Value.1":  {"approved"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("form sent\n got %v\nwant %v", got, want)
	}
}

func TestExecuteSendsDefaultFilters(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.servePages([]fakeImage{{ID: "ami-0d", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z"}})
	d := configureAgainst(t, f, `app_name = "ponyfoo"`)
	if _, err := d.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	got := f.actions("DescribeImages")[0].Form
	want := url.Values{
		"Action":            {"DescribeImages"},
		"Version":           {"2016-11-15"},
		"MaxResults":        {"1000"},
		"IncludeDeprecated": {"false"},
		"Owner.1":           {"self"},
		"Filter.1.Name":     {"name"},
		"Filter.1.Value.1":  {"ponyfoo-primal *"},
		"Filter.2.Name":     {"state"},
		"Filter.2.Value.1":  {"available"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("form sent\n got %v\nwant %v", got, want)
	}
}

func TestExecuteNameOverride(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.servePages([]fakeImage{{ID: "ami-0n", Name: "legacy-base 7", Created: "2024-01-01T00:00:00.000Z"}})
	d := configureAgainst(t, f, `
name     = "legacy-base *"
app_name = "ponyfoo"
`)
	out, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if id := out.GetAttr("id").AsString(); id != "ami-0n" {
		t.Errorf("id = %q", id)
	}
	form := f.actions("DescribeImages")[0].Form
	if got := form.Get("Filter.1.Value.1"); form.Get("Filter.1.Name") != "name" || got != "legacy-base *" {
		t.Errorf("name filter = %q, want the name option", got)
	}
}

func TestExecuteNoneFound(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.servePages([]fakeImage{})
	d := configureAgainst(t, f, `
app_name = "ponyfoo"
owners   = ["self", "123456789012"]
tags     = { stage = "approved" }
`)
	_, err := d.Execute()
	if err == nil {
		t.Fatal("Execute found an image in an empty account")
	}
	for _, want := range []string{
		"no available image found",
		`name pattern "ponyfoo-primal *"`,
		"owners [self, 123456789012]",
		`tags {stage="approved"}`,
		"region us-east-1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestExecuteAuthFailure(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.describe = func(int, url.Values) answer {
		return answer{http.StatusUnauthorized, ec2ErrorXML("AuthFailure", "AWS was not able to validate the provided access credentials")}
	}
	d := configureAgainst(t, f, `
app_name   = "ponyfoo"
access_key = "AKIDREJECTED"
secret_key = "rejected-secret-key"
`)
	_, err := d.Execute()
	if err == nil {
		t.Fatal("Execute succeeded against AuthFailure")
	}
	msg := err.Error()
	for _, want := range []string{
		"DescribeImages failed",
		"AuthFailure",
		"AWS was not able to validate the provided access credentials",
		"rejected the credentials",
		"region us-east-1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, msg)
		}
	}
	if strings.Contains(msg, "rejected-secret-key") {
		t.Errorf("error leaks the secret key: %v", msg)
	}
	if n := len(f.actions("DescribeImages")); n != 1 {
		t.Errorf("%d requests; an AuthFailure must not be retried", n)
	}
	// The explicit keys won over the environment's.
	if auth := f.actions("DescribeImages")[0].Header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDREJECTED/") {
		t.Errorf("not signed with access_key: %q", auth)
	}
}

func TestExecuteThrottledFailsFast(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.describe = func(int, url.Values) answer {
		return answer{http.StatusServiceUnavailable, ec2ErrorXML("RequestLimitExceeded", "Request limit exceeded.")}
	}
	d := configureAgainst(t, f, `
app_name    = "ponyfoo"
max_retries = 1
`)
	start := time.Now()
	_, err := d.Execute()
	if err == nil {
		t.Fatal("Execute succeeded while throttled")
	}
	for _, want := range []string{"RequestLimitExceeded", "throttling", "max_retries"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n := len(f.actions("DescribeImages")); n != 1 {
		t.Errorf("%d requests with max_retries = 1, want 1", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s; max_retries = 1 must not back off", d)
	}
}

func TestExecuteThrottledRetriesThenSucceeds(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.describe = func(n int, _ url.Values) answer {
		if n == 0 {
			return answer{http.StatusServiceUnavailable, ec2ErrorXML("RequestLimitExceeded", "Request limit exceeded.")}
		}
		return answer{200, describeImagesXML([]fakeImage{{ID: "ami-0retry", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z"}}, "")}
	}
	d := configureAgainst(t, f, `
app_name    = "ponyfoo"
max_retries = 3
`)
	out, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if id := out.GetAttr("id").AsString(); id != "ami-0retry" {
		t.Errorf("id = %q", id)
	}
	if n := len(f.actions("DescribeImages")); n != 2 {
		t.Errorf("%d requests, want 2 (throttled, then retried)", n)
	}
}

func TestExecuteStopsOnDuplicateToken(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	f.describe = func(n int, form url.Values) answer {
		if n > 1 {
			t.Errorf("request %d: the paginator should have stopped on the repeated token", n+1)
		}
		img := fakeImage{ID: fmt.Sprintf("ami-0dup%d", n), Name: "ponyfoo-primal 1", Created: fmt.Sprintf("2024-01-0%dT00:00:00.000Z", n+1)}
		return answer{200, describeImagesXML([]fakeImage{img}, "same-token")}
	}
	d := configureAgainst(t, f, `app_name = "ponyfoo"`)
	out, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if n := len(f.actions("DescribeImages")); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if id := out.GetAttr("id").AsString(); id != "ami-0dup1" {
		t.Errorf("id = %q, want the newer image of the two pages", id)
	}
}

func TestExecuteSkipsDeprecatedAndUnavailable(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	future := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	images := []fakeImage{
		{ID: "ami-0deprecated", Name: "ponyfoo-primal 4", Created: "2024-04-01T00:00:00.000Z", Deprecation: past},
		{ID: "ami-0pending", Name: "ponyfoo-primal 3", Created: "2024-03-01T00:00:00.000Z", State: "pending"},
		{ID: "ami-0laterdeprecation", Name: "ponyfoo-primal 2", Created: "2024-02-01T00:00:00.000Z", Deprecation: future},
		{ID: "ami-0old", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z"},
	}
	for _, tc := range []struct {
		include bool
		want    string
	}{{false, "ami-0laterdeprecation"}, {true, "ami-0deprecated"}} {
		t.Run(fmt.Sprintf("include_deprecated=%t", tc.include), func(t *testing.T) {
			isolateAWS(t)
			f := newFakeAWS(t)
			f.servePages(images)
			d := configureAgainst(t, f, fmt.Sprintf("app_name = \"ponyfoo\"\ninclude_deprecated = %t", tc.include))
			out, err := d.Execute()
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if id := out.GetAttr("id").AsString(); id != tc.want {
				t.Errorf("id = %q, want %q", id, tc.want)
			}
		})
	}
}

func TestExecuteMissingRegion(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	_, err := configureHCL(t, fmt.Sprintf("app_name = \"ponyfoo\"\ncustom_endpoint_ec2 = %q", f.URL()))
	if err == nil || !strings.Contains(err.Error(), "region: is required") {
		t.Fatalf("Configure error = %v, want region: is required", err)
	}
	// Execute guards too, though Packer never executes an unconfigured data
	// source: with a custom endpoint, the SDK itself would sign for "".
	cfg := &Config{AppName: "ponyfoo", Role: RolePrimal, Owners: []string{"self"}, CustomEndpointEc2: f.URL()}
	if _, err := execute(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "region is required") {
		t.Fatalf("execute error = %v, want region is required", err)
	}
	if n := len(f.actions("DescribeImages")); n != 0 {
		t.Errorf("%d requests were sent without a region", n)
	}
}

func TestExecuteWithoutCredentials(t *testing.T) {
	isolateAWS(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	f := newFakeAWS(t)
	d := configureAgainst(t, f, `app_name = "ponyfoo"`)
	_, err := d.Execute()
	if err == nil || !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Fatalf("Execute error = %v, want no usable AWS credentials", err)
	}
	if n := len(f.actions("DescribeImages")); n != 0 {
		t.Errorf("%d unsigned requests were sent", n)
	}
}

func TestExecuteUsesProfileFromSharedFiles(t *testing.T) {
	isolateAWS(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	creds := filepath.Join(t.TempDir(), "credentials")
	err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"+
		"[ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = o\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeAWS(t)
	f.servePages([]fakeImage{{ID: "ami-0p", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z"}})
	d := configureAgainst(t, f, fmt.Sprintf(`
app_name                = "ponyfoo"
profile                 = "ops"
shared_credentials_file = %q
`, creds))
	if _, err := d.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if auth := f.actions("DescribeImages")[0].Header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDOPSPROFILE/") {
		t.Errorf("not signed with the ops profile: %q", auth)
	}
}

func TestExecuteAssumesRole(t *testing.T) {
	isolateAWS(t)
	f := newFakeAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", f.URL())
	f.assumeRole = func(form url.Values) answer {
		return answer{200, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDROLE</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/image-reader/packer-node-ami</Arn>
      <AssumedRoleId>AROAEXAMPLE:packer-node-ami</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`}
	}
	f.servePages([]fakeImage{{ID: "ami-0assumed", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z"}})
	d := configureAgainst(t, f, `
app_name = "ponyfoo"
assume_role {
  role_arn         = "arn:aws:iam::123456789012:role/image-reader"
  session_name     = "packer-node-ami"
  external_id      = "ext-42"
  duration_seconds = 1800
}
`)
	out, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if id := out.GetAttr("id").AsString(); id != "ami-0assumed" {
		t.Errorf("id = %q", id)
	}
	ar := f.actions("AssumeRole")
	if len(ar) != 1 {
		t.Fatalf("%d AssumeRole requests, want 1", len(ar))
	}
	for k, want := range map[string]string{
		"RoleArn":         "arn:aws:iam::123456789012:role/image-reader",
		"RoleSessionName": "packer-node-ami",
		"ExternalId":      "ext-42",
		"DurationSeconds": "1800",
	} {
		if got := ar[0].Form.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
	if auth := ar[0].Header.Get("Authorization"); !strings.Contains(auth, "Credential="+testAccessKey+"/") || !strings.Contains(auth, "/sts/aws4_request") {
		t.Errorf("AssumeRole not signed with the base credentials: %q", auth)
	}
	di := f.actions("DescribeImages")[0]
	if auth := di.Header.Get("Authorization"); !strings.Contains(auth, "Credential=ASIAASSUMEDROLE/") {
		t.Errorf("DescribeImages not signed with the assumed role: %q", auth)
	}
	if tok := di.Header.Get("X-Amz-Security-Token"); tok != "assumed-session-token" {
		t.Errorf("X-Amz-Security-Token = %q", tok)
	}
}

func TestParseTimeMilliseconds(t *testing.T) {
	a, err := parseTime("2021-09-29T11:04:43.305Z")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseTime("2021-09-29T11:04:43Z")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Sub(b); got != 305*time.Millisecond {
		t.Errorf("difference = %s, want 305ms", got)
	}
}
