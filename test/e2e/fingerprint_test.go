//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/provisioner/primal"
)

// TestCIBuildScript runs example/aws/ci-build.sh as a user would, against a
// fake EC2, with DRY_RUN=1: the fingerprint and the look-up run for real
// (Packer, the plugin's data sources, the amazon plugin), the two builds
// are printed. With a primal image of the app's fingerprint it builds only
// the release; without one, a primal image first, pinned to the exact
// Node.js release; a look-up that fails for another reason builds nothing.
func TestCIBuildScript(t *testing.T) {
	requireAmazonPlugin(t)
	fake := newFakeEC2(t)
	isolateAWSForPacker(t, fake.URL())
	root := repoRoot(t)
	// What node-primal would record on an x86_64 machine for
	// example/aws/primal.pkr.hcl with Node.js 22.12.0.
	want := fingerprint.Of(fingerprint.Inputs{
		Architecture: "x86_64", NodeInstaller: "tarball", NodeVersion: "22.12.0", Packages: primal.DefaultPackages,
		DependencyFile: "package-lock.json", DependencySHA256: sha256File(t, filepath.Join(root, "example/app/package-lock.json")),
	})
	other := fingerprint.Of(fingerprint.Inputs{Architecture: "x86_64", NodeInstaller: "tarball", NodeVersion: "22.11.0", Packages: primal.DefaultPackages})

	run := func(t *testing.T) (string, error) {
		cmd := exec.Command(filepath.Join(root, "example/aws/ci-build.sh"))
		cmd.Dir = t.TempDir() // the script finds its templates itself
		cmd.Env = append(os.Environ(), "PACKER="+packer(t), "DRY_RUN=1", "NODE_VERSION=22.12.0",
			"CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		t.Logf("ci-build.sh:\n%s", out)
		return string(out), err
	}
	primalBuild := "-only=amazon-ebs.primal -var node_version=22.12.0"
	carnivoreBuild := "-var environment=production -var fingerprint=" + want.Value + " " + filepath.Join(root, "example/aws/carnivore.pkr.hcl")

	t.Run("a primal image matches", func(t *testing.T) {
		fake.reset([]ec2Image{
			{ID: "ami-0match", Name: "ponyfoo-primal 1700000000", Created: "2023-11-14T22:13:20.000Z", Tags: want.Tags()},
			{ID: "ami-0newer", Name: "ponyfoo-primal 1800000000", Created: "2027-01-15T08:00:00.000Z", Tags: other.Tags()},
		})
		out, err := run(t)
		if err != nil {
			t.Fatalf("ci-build.sh failed: %v", err)
		}
		for _, s := range []string{
			"ci-build: the app's primal fingerprint is " + want.Value + " (Node.js 22.12.0)",
			"a primal image with that fingerprint exists: no primal build",
			carnivoreBuild,
		} {
			if !strings.Contains(out, s) {
				t.Errorf("the output lacks %q", s)
			}
		}
		if strings.Contains(out, primalBuild) {
			t.Error("it builds a primal image although one matches")
		}
	})
	t.Run("no primal image matches", func(t *testing.T) {
		fake.reset([]ec2Image{{ID: "ami-0newer", Name: "ponyfoo-primal 1800000000", Created: "2027-01-15T08:00:00.000Z", Tags: other.Tags()}})
		out, err := run(t)
		if err != nil {
			t.Fatalf("ci-build.sh failed: %v", err)
		}
		for _, s := range []string{
			"the newest image without that filter is ami-0newer",
			"no primal image with that fingerprint: building one",
			primalBuild,
			carnivoreBuild,
		} {
			if !strings.Contains(out, s) {
				t.Errorf("the output lacks %q", s)
			}
		}
		if p, c := strings.Index(out, primalBuild), strings.Index(out, carnivoreBuild); p < 0 || c < p {
			t.Error("the release is not built after the primal image")
		}
	})
	t.Run("the look-up fails", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:1")
		t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
		out, err := run(t)
		if err == nil || !strings.Contains(out, "the look-up failed (see above): not building anything") || strings.Contains(out, "would run") {
			t.Errorf("with EC2 unreachable: %v", err)
		}
	})
}
