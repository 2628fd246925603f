package primal

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/runner"
)

// curlComm answers every command as a curl that fails with exit 52 would,
// or, when hang is set, never answers (a black-holed mirror).
type curlComm struct{ hang bool }

func (c *curlComm) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	if c.hang {
		return nil
	}
	io.Copy(io.Discard, rc.Stdin)
	io.WriteString(rc.Stderr, "curl: (52) Empty reply from server\n")
	go rc.SetExited(52)
	return nil
}

func (c *curlComm) Upload(string, io.Reader, *os.FileInfo) error { return errors.New("not used") }
func (c *curlComm) UploadDir(string, string, []string) error     { return errors.New("not used") }
func (c *curlComm) Download(string, io.Writer) error             { return errors.New("not used") }
func (c *curlComm) DownloadDir(string, string, []string) error   { return errors.New("not used") }

// TestResolveNodeNamesTheMirrorRedacted: when the mirror fails or never
// answers, the error names the mirror's URL with its credentials
// redacted, and says what curl said or that the build was stopped.
func TestResolveNodeNamesTheMirrorRedacted(t *testing.T) {
	const mirror = "http://nodebake:m1rrorS3CRET@mirror.test:8080/dist"
	secrets := []string{"m1rrorS3CRET", "nodebake:m1rrorS3CRET"}
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: io.Discard, ErrorWriter: io.Discard}

	r := &runner.Runner{UI: ui, Comm: &curlComm{}, Name: "node-primal", Secrets: secrets}
	_, err := resolveNode(context.Background(), r, mirror, "22", "linux-x64", nil)
	want := "node_mirror: cannot read http://nodebake:xxxxx@mirror.test:8080/dist/index.json from the machine: curl exited 52: curl: (52) Empty reply from server"
	if err == nil || err.Error() != want {
		t.Errorf("resolveNode on a failing mirror = %v\nwant %s", err, want)
	}

	r = &runner.Runner{UI: ui, Comm: &curlComm{hang: true}, Name: "node-primal", Secrets: secrets}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = resolveNode(ctx, r, mirror, "22.12.0", "linux-x64", nil)
	want = "node_mirror: no answer from http://nodebake:xxxxx@mirror.test:8080/dist/v22.12.0/SHASUMS256.txt before the build was stopped (by the provisioner's timeout or an interrupt): context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("resolveNode on a black-holed mirror = %v\nwant %s", err, want)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error does not wrap the context's: %v", err)
	}
}
