package ami

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
)

// Two primal images: the newer one made with Node.js 22.12.0, the older
// with 22.11.0; the app's lockfile is the same.
func fingerprintImages() (newer, older fingerprint.Fingerprint, images []fakeImage) {
	in := fingerprint.Inputs{Architecture: "x86_64", NodeInstaller: "tarball", NodeVersion: "22.12.0",
		Packages: []string{"git"}, DependencyFile: "package-lock.json", DependencySHA256: strings.Repeat("a", 64)}
	newer = fingerprint.Of(in)
	in.NodeVersion = "22.11.0"
	older = fingerprint.Of(in)
	tags := func(f fingerprint.Fingerprint) map[string]string {
		t := f.Tags()
		t["app"] = "ponyfoo"
		return t
	}
	images = []fakeImage{
		{ID: "ami-0older", Name: "ponyfoo-primal 1", Created: "2024-01-01T00:00:00.000Z", Tags: tags(older)},
		{ID: "ami-0newer", Name: "ponyfoo-primal 2", Created: "2024-02-01T00:00:00.000Z", Tags: tags(newer)},
	}
	return newer, older, images
}

func hclMap(m map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, " %s = %q,", k, m[k])
	}
	return b.String() + " }"
}

// fingerprint finds the image with that fingerprint, even when a newer one
// has another.
func TestFingerprintFindsItsImage(t *testing.T) {
	isolateAWS(t)
	_, older, images := fingerprintImages()
	f := newFakeAWS(t)
	f.serveImages(images)
	d := configureAgainst(t, f, fmt.Sprintf("app_name = \"ponyfoo\"\nfingerprint = %q\n", older.Value))
	out, err := execute(t.Context(), &d.config)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != "ami-0older" {
		t.Errorf("found %s, want ami-0older, the one with the fingerprint", out.ID)
	}
	reqs := f.actions("DescribeImages")
	if len(reqs) != 1 || !strings.Contains(fmt.Sprint(reqs[0].Form), "tag:node:fingerprint") {
		t.Errorf("want one DescribeImages filtering on tag:node:fingerprint, got %v", reqs)
	}
}

// A fingerprint no image has: the error names the newest image for the app
// and the parts that differ.
func TestFingerprintMissNamesWhatDiffers(t *testing.T) {
	isolateAWS(t)
	newer, _, images := fingerprintImages()
	want := maps.Clone(newer.Parts)
	want["dependencies"] = "package-lock.json:" + strings.Repeat("b", 64)
	wanted := fingerprint.Of(fingerprint.Inputs{Architecture: "x86_64", NodeInstaller: "tarball", NodeVersion: "22.12.0",
		Packages: []string{"git"}, DependencyFile: "package-lock.json", DependencySHA256: strings.Repeat("b", 64)})
	if wanted.Parts["dependencies"] != want["dependencies"] {
		t.Fatal("test setup: parts do not match")
	}
	f := newFakeAWS(t)
	f.serveImages(images)

	d := configureAgainst(t, f, fmt.Sprintf("app_name = \"ponyfoo\"\nfingerprint = %q\nfingerprint_parts = %s\n", wanted.Value, hclMap(wanted.Parts)))
	_, err := execute(t.Context(), &d.config)
	if err == nil {
		t.Fatal("found an image for a fingerprint none has")
	}
	for _, s := range []string{
		"no available image with fingerprint " + wanted.Value,
		`name pattern "ponyfoo-primal *"`,
		"the newest image without that filter is ami-0newer (\"ponyfoo-primal 2\", created 2024-02-01T00:00:00.000Z), whose fingerprint is " + newer.Value,
		`it differs in dependencies (image "package-lock.json:aaaa`,
		"Build a primal image for this fingerprint",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "node (") || strings.Contains(err.Error(), "architecture (") {
		t.Errorf("error names parts that are the same: %v", err)
	}

	// Without fingerprint_parts it says how to learn more; for an image
	// without part tags, that its tags do not tell.
	d = configureAgainst(t, f, fmt.Sprintf("app_name = \"ponyfoo\"\nfingerprint = %q\n", wanted.Value))
	if _, err := execute(t.Context(), &d.config); err == nil || !strings.Contains(err.Error(), "set fingerprint_parts") {
		t.Errorf("without fingerprint_parts: %v", err)
	}
	f.serveImages([]fakeImage{{ID: "ami-0plain", Name: "ponyfoo-primal 3", Created: "2024-03-01T00:00:00.000Z"}})
	d = configureAgainst(t, f, fmt.Sprintf("app_name = \"ponyfoo\"\nfingerprint = %q\nfingerprint_parts = %s\n", wanted.Value, hclMap(wanted.Parts)))
	if _, err := execute(t.Context(), &d.config); err == nil || !strings.Contains(err.Error(), "whose fingerprint is none; its tags do not say what it was made of") {
		t.Errorf("an image without fingerprint tags: %v", err)
	}
	f.serveImages(nil)
	if _, err := execute(t.Context(), &d.config); err == nil || !strings.Contains(err.Error(), "and none without it either: node-ami: no available image found for") {
		t.Errorf("no image at all: %v", err)
	}
}

func TestFingerprintOptionsAreChecked(t *testing.T) {
	// What packer validate passes for another data source's output.
	if _, err := configureHCL(t, "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\nfingerprint = \"<unknown>\"\n"); err != nil {
		t.Errorf("Packer's placeholder for a value not known yet: %v", err)
	}
	fp := strings.Repeat("0", 64)
	for _, c := range []struct{ extra, want string }{
		{`fingerprint = "abc"`, "fingerprint: must be a fingerprint"},
		{`fingerprint_parts = { node = "tarball/22.12.0" }`, "fingerprint_parts: needs fingerprint"},
		{`fingerprint = "` + fp + `"` + "\n" + `fingerprint_parts = { colour = "blue" }`, `fingerprint_parts: "colour" is not a part`},
		{`fingerprint = "` + fp + `"` + "\n" + `tags = { "node:fingerprint" = "x" }`, `tags: must not hold "node:fingerprint"`},
	} {
		_, err := configureHCL(t, "app_name = \"ponyfoo\"\nregion = \"us-east-1\"\n"+c.extra)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.extra, err, c.want)
		}
	}
}
