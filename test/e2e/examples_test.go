//go:build e2e

package e2e

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Static, fake AWS credentials: the fake EC2 checks that requests are signed
// with them, which shows that nothing came from the developer's own setup.
const (
	awsExampleAccessKey = "AKIDEXAMPLESVALIDATE"
	awsExampleSecretKey = "examples-validate-secret-0123456789"
	awsExampleImageID   = "ami-0e2e0000000000001"
	awsExampleImageName = "ponyfoo-primal 1700000000"
)

// TestAWSExamplesValidate runs a full `packer validate` (not -syntax-only) of
// every example/aws template with the real amazon plugin, so each builder,
// provisioner and data source block is decoded and checked by its own plugin.
//
// Packer 1.11.2's validate configures data sources (Configure, which checks
// their settings) but does not execute them unless -evaluate-datasources is
// given: data.node-ami.primal.id is an unknown placeholder and no AWS call is
// made. The amazon-ebs builder's Prepare makes none either (source_ami_filter
// and region checks run at build time). Every AWS endpoint points at a fake
// EC2 on loopback all the same, which proves the plain validate sends
// nothing, and then answers DescribeImages for the -evaluate-datasources runs.
func TestAWSExamplesValidate(t *testing.T) {
	requireAmazonPlugin(t)
	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())

	root := repoRoot(t)
	templates, err := filepath.Glob(filepath.Join(root, "example", "aws", "*.pkr.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) < 2 {
		t.Fatalf("want the primal and carnivore templates in example/aws, found %v", templates)
	}
	for _, abs := range templates {
		rel, _ := filepath.Rel(root, abs)
		t.Run(filepath.Base(rel), func(t *testing.T) {
			out, err := runPacker(t, "validate", rel)
			if err != nil || !strings.Contains(out, "The configuration is valid.") {
				t.Fatalf("packer validate %s failed: %v\n%s", rel, err, out)
			}
		})
	}
	// The Ubuntu variants: primal on Canonical's AMI, carnivore logging in
	// as ubuntu. The Graviton (arm64) variants: the arm64 AMIs, t4g build
	// instances, node-ami looking for arm64 primal images.
	for _, args := range [][]string{
		{"-var", "distribution=ubuntu", "example/aws/primal.pkr.hcl"},
		{"-var", "ssh_username=ubuntu", "example/aws/carnivore.pkr.hcl"},
		{"-var", "architecture=arm64", "example/aws/primal.pkr.hcl"},
		{"-var", "architecture=arm64", "-var", "distribution=ubuntu", "example/aws/primal.pkr.hcl"},
		{"-var", "architecture=arm64", "-var", "instance_type=c7g.large", "example/aws/carnivore.pkr.hcl"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := runPacker(t, append([]string{"validate"}, args...)...)
			if err != nil || !strings.Contains(out, "The configuration is valid.") {
				t.Fatalf("packer validate %v failed: %v\n%s", args, err, out)
			}
		})
	}
	if n := fake.count(); n != 0 {
		t.Errorf("plain packer validate sent %d requests to AWS; it should execute no data source", n)
	}

	const carnivore = "example/aws/carnivore.pkr.hcl"

	t.Run("carnivore with evaluated data source", func(t *testing.T) {
		fake.reset([]ec2Image{awsImage(awsExampleImageID, awsExampleImageName, "2023-11-14T22:13:20.000Z")})
		out, err := runPacker(t, "validate", "-evaluate-datasources", carnivore)
		if err != nil || !strings.Contains(out, "The configuration is valid.") {
			t.Fatalf("packer validate -evaluate-datasources failed: %v\n%s", err, out)
		}
		reqs := fake.requests()
		if len(reqs) != 1 {
			t.Fatalf("want 1 DescribeImages request, the fake got %d", len(reqs))
		}
		checkDescribeImages(t, reqs[0], "ponyfoo-primal *")
	})

	t.Run("Graviton carnivore with evaluated data source", func(t *testing.T) {
		fake.reset([]ec2Image{awsImage(awsExampleImageID, awsExampleImageName, "2023-11-14T22:13:20.000Z")})
		out, err := runPacker(t, "validate", "-evaluate-datasources", "-var", "architecture=arm64", carnivore)
		if err != nil || !strings.Contains(out, "The configuration is valid.") {
			t.Fatalf("packer validate -evaluate-datasources -var architecture=arm64 failed: %v\n%s", err, out)
		}
		reqs := fake.requests()
		if len(reqs) != 1 {
			t.Fatalf("want 1 DescribeImages request, the fake got %d", len(reqs))
		}
		checkDescribeImages(t, reqs[0], "ponyfoo-primal *")
		if got := describeImagesFilter(reqs[0], "architecture"); got != "arm64" {
			t.Errorf("DescribeImages filter architecture = %q, want arm64 (node-ami must find only arm64 primal images)", got)
		}
	})

	t.Run("carnivore without a primal image", func(t *testing.T) {
		fake.reset(nil)
		out, err := runPacker(t, "validate", "-evaluate-datasources", "-var", "app_name=nosuchapp", carnivore)
		if err == nil {
			t.Fatalf("packer validate -evaluate-datasources passed with no primal image:\n%s", out)
		}
		if !strings.Contains(out, "node-ami: no available image found") {
			t.Errorf("the error does not say that no primal image was found:\n%s", out)
		}
		if reqs := fake.requests(); len(reqs) == 1 {
			checkDescribeImages(t, reqs[0], "nosuchapp-primal *")
		} else {
			t.Errorf("want 1 DescribeImages request, the fake got %d", len(reqs))
		}
	})

	// Mistakes are caught by the plugin that owns each block: proof that the
	// validate above is a real one and not a syntax check.
	for _, tc := range []struct {
		name, template string
		args           []string
		want           string
	}{
		{"amazon-ebs rejects no instance type", "example/aws/primal.pkr.hcl",
			[]string{"-var", "instance_type="}, "either instance_type or spot_instance_types must be specified"},
		{"node-primal rejects a missing package.json", "example/aws/primal.pkr.hcl",
			[]string{"-var", "package_json=example/aws/no-such/package.json"}, "package_json:"},
		{"the template rejects an unknown distribution", "example/aws/primal.pkr.hcl",
			[]string{"-var", "distribution=fedora"}, "The distribution must be debian or ubuntu."},
		{"the template rejects an unknown architecture", "example/aws/primal.pkr.hcl",
			[]string{"-var", "architecture=aarch64"}, "The architecture must be x86_64 or arm64."},
		{"node-ami rejects a bad app name", carnivore,
			[]string{"-var", "app_name=pony foo"}, "app_name: must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.reset(nil)
			args := append(append([]string{"validate"}, tc.args...), tc.template)
			out, err := runPacker(t, args...)
			if err == nil {
				t.Fatalf("packer validate accepted %v", tc.args)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("packer validate output lacks %q", tc.want)
			}
			if n := fake.count(); n != 0 {
				t.Errorf("packer validate sent %d requests to AWS", n)
			}
		})
	}
}

// requireAmazonPlugin fails the test unless packer-plugin-amazon is installed
// where PACKER_PLUGIN_PATH points, as `make e2e` (through `make
// amazon-plugin`) arranges.
func requireAmazonPlugin(t *testing.T) {
	t.Helper()
	pp := os.Getenv("PACKER_PLUGIN_PATH")
	m, _ := filepath.Glob(filepath.Join(pp, "github.com", "hashicorp", "amazon", "packer-plugin-amazon_*"))
	if pp == "" || len(m) == 0 {
		t.Fatalf("the amazon plugin is not installed under PACKER_PLUGIN_PATH=%q: run the e2e tests with `make e2e` "+
			"(or `make dev amazon-plugin` first, with the same PACKER_PLUGIN_PATH)", pp)
	}
}

// isolateAWSForPacker cuts the Packer runs off from the developer's AWS
// setup and from AWS itself: no AWS_* variable but the ones set here, no
// instance metadata, empty shared config and credentials files, static fake
// credentials, and every service endpoint on the loopback fake.
func isolateAWSForPacker(t *testing.T, endpoint string) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_ACCESS_KEY_ID":           awsExampleAccessKey,
		"AWS_SECRET_ACCESS_KEY":       awsExampleSecretKey,
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_ENDPOINT_URL_EC2":        endpoint,
		"AWS_MAX_ATTEMPTS":            "1",
	} {
		t.Setenv(k, v)
	}
}

// checkDescribeImages checks that a request is node-ami's search for the
// newest primal image, signed with the fake credentials for the template's
// region.
func checkDescribeImages(t *testing.T, r url.Values, wantName string) {
	t.Helper()
	if got := r.Get("Owner.1"); got != "self" {
		t.Errorf("DescribeImages Owner.1 = %q, want self", got)
	}
	if got := r.Get("Filter.1.Name") + "=" + r.Get("Filter.1.Value.1"); got != "name="+wantName {
		t.Errorf("DescribeImages first filter = %q, want name=%s", got, wantName)
	}
	if auth := r.Get("authorization"); !strings.Contains(auth, "Credential="+awsExampleAccessKey+"/") ||
		!strings.Contains(auth, "/us-east-1/ec2/aws4_request") {
		t.Errorf("DescribeImages is not signed with the fake credentials for us-east-1 EC2: %q", auth)
	}
}

// describeImagesFilter is the first value of a DescribeImages request's
// filter named name ("" when it has none).
func describeImagesFilter(r url.Values, name string) string {
	for i := 1; r.Get(fmt.Sprintf("Filter.%d.Name", i)) != ""; i++ {
		if r.Get(fmt.Sprintf("Filter.%d.Name", i)) == name {
			return r.Get(fmt.Sprintf("Filter.%d.Value.1", i))
		}
	}
	return ""
}

// fakeEC2 is a loopback httptest server speaking EC2's Query protocol for
// DescribeImages, the one call node-ami makes. Any other request fails the
// test.
type fakeEC2 struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	images []ec2Image   // what DescribeImages has to search
	forms  []url.Values // every request's form, plus its Authorization header
}

func newFakeEC2(t *testing.T) *fakeEC2 {
	f := &fakeEC2{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEC2) URL() string { return f.srv.URL }

// reset forgets the requests and sets the images of later answers.
func (f *fakeEC2) reset(images []ec2Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images, f.forms = images, nil
}

// count is the number of requests, of any action, since the last reset.
func (f *fakeEC2) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.forms)
}

// requests returns the DescribeImages requests since the last reset.
func (f *fakeEC2) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, form := range f.forms {
		if form.Get("Action") == "DescribeImages" {
			out = append(out, form)
		}
	}
	return out
}

func (f *fakeEC2) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost {
		f.t.Errorf("fake EC2: unexpected %s %s request: %q", r.Method, r.URL, body)
		http.Error(w, "want a form POST", http.StatusBadRequest)
		return
	}
	form.Set("authorization", r.Header.Get("Authorization"))
	f.mu.Lock()
	f.forms = append(f.forms, form)
	images := f.images
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if form.Get("Action") != "DescribeImages" {
		f.t.Errorf("fake EC2: unexpected action %q", form.Get("Action"))
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Response><Errors><Error><Code>InvalidAction</Code><Message>not expected</Message></Error></Errors>`+
			`<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>`)
		return
	}
	var items strings.Builder
	for _, im := range images {
		if im.matches(form) {
			items.WriteString(im.xml())
		}
	}
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
		`<requestId>00000000-0000-0000-0000-000000000000</requestId><imagesSet>`+
		items.String()+`</imagesSet></DescribeImagesResponse>`)
}

// ec2Image is one available x86_64 EBS image of the fake account, tagged
// App=ponyfoo, Role=primal and with Tags.
type ec2Image struct {
	ID, Name, Created string
	Tags              map[string]string
}

// awsImage is the examples' image, with no more tags.
func awsImage(id, name, created string) ec2Image {
	return ec2Image{ID: id, Name: name, Created: created}
}

func (im ec2Image) tags() map[string]string {
	t := map[string]string{"App": "ponyfoo", "Role": "primal"}
	maps.Copy(t, im.Tags)
	return t
}

// matches applies a request's tag filters (tag:<key> with one value), as
// EC2 does; the other filters are the tests' to check.
func (im ec2Image) matches(form url.Values) bool {
	tags := im.tags()
	for i := 1; form.Get(fmt.Sprintf("Filter.%d.Name", i)) != ""; i++ {
		if k, ok := strings.CutPrefix(form.Get(fmt.Sprintf("Filter.%d.Name", i)), "tag:"); ok && tags[k] != form.Get(fmt.Sprintf("Filter.%d.Value.1", i)) {
			return false
		}
	}
	return true
}

// xml is the image as an <item> of DescribeImages' imagesSet.
func (im ec2Image) xml() string {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var tags strings.Builder
	t := im.tags()
	for _, k := range slices.Sorted(maps.Keys(t)) {
		fmt.Fprintf(&tags, "<item><key>%s</key><value>%s</value></item>", esc(k), esc(t[k]))
	}
	return fmt.Sprintf("<item><imageId>%s</imageId><imageLocation>123456789012/%s</imageLocation>"+
		"<imageState>available</imageState><imageOwnerId>123456789012</imageOwnerId>"+
		"<creationDate>%s</creationDate><isPublic>false</isPublic><architecture>x86_64</architecture>"+
		"<imageType>machine</imageType><name>%s</name><rootDeviceType>ebs</rootDeviceType>"+
		"<virtualizationType>hvm</virtualizationType><tagSet>%s</tagSet></item>",
		esc(im.ID), esc(im.Name), esc(im.Created), esc(im.Name), tags.String())
}
