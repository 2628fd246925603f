package fingerprint

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/nodebake/packer-plugin-node/internal/core"
	fp "github.com/nodebake/packer-plugin-node/internal/fingerprint"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/provisioner/primal"
)

const app = "../../provisioner/primal/testdata/app/package.json"

// index is a mirror's index.json: 22.12.0 has no arm64 build.
const index = `[
 {"version":"v23.4.0","files":["linux-x64","linux-arm64"],"lts":false},
 {"version":"v22.12.0","files":["linux-x64"],"lts":"Jod"},
 {"version":"v22.11.0","files":["linux-x64","linux-arm64"],"lts":"Jod"},
 {"version":"v20.18.1","files":["linux-x64","linux-arm64"],"lts":"Iron"}
]`

func configure(t *testing.T, raw map[string]interface{}) *Datasource {
	t.Helper()
	d := &Datasource{}
	if err := d.Configure(raw); err != nil {
		t.Fatalf("Configure(%v): %v", raw, err)
	}
	return d
}

func mirror(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/dist"
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/dist/index.json" {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(index))
}

// The data source and node-primal, given the same settings, agree: the
// fingerprint node-primal records in its manifest on a machine of that
// architecture with that Node.js is the data source's.
func TestAgreesWithNodePrimal(t *testing.T) {
	for _, raw := range []map[string]interface{}{
		{"package_json": app, "node_version": "22.12.0"},
		{"package_json": app, "node_version": "v20.18.1", "extra_packages": []string{"jq"}, "node_installer": "nvm"},
		{"node_installer": "distro", "packages": []string{"curl"}},
	} {
		d := configure(t, raw)
		out, err := d.compute(context.Background(), newClient())
		if err != nil {
			t.Fatal(err)
		}
		var c primal.Config
		if err := core.Prepare("node-primal", &c, &interpolate.Context{}, raw); err != nil {
			t.Fatal(err)
		}
		manifest := recordedManifest(t, &c, out.NodeVersion)
		if manifest.Fingerprint == nil || manifest.Fingerprint.Value != out.Fingerprint {
			t.Errorf("%v: node-primal records %+v, the data source says %s", raw, manifest.Fingerprint, out.Fingerprint)
		}
		if out.Tags[fp.TagKey] != out.Fingerprint || out.Tags[fp.PartTagPrefix+"node"] != out.Parts["node"] {
			t.Errorf("tags %v do not carry the fingerprint and its parts %v", out.Tags, out.Parts)
		}
	}
}

// recordedManifest is the manifest node-primal's finishing plan writes on
// an x86_64 machine where node --version prints v+node.
func recordedManifest(t *testing.T, c *primal.Config, node string) *precache.Manifest {
	t.Helper()
	f := core.Facts{User: "node", Home: "/home/node", Group: "node", Machine: "x86_64"}
	s := precache.State{NodeVersion: "v" + node, NpmVersion: "10.9.0"}
	if node == "" {
		s.NodeVersion = "v18.19.0" // the distribution's, whatever it is
	}
	for _, st := range c.FinishPlan(f, s, time.Now()).Steps {
		for _, file := range st.Files {
			if file.Path == precache.ManifestPath {
				m, err := precache.ParseManifest(file.Content)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	t.Fatal("the finishing plan writes no manifest")
	return nil
}

// The same settings with any one changed give another fingerprint.
func TestEachSettingChangesIt(t *testing.T) {
	base := map[string]interface{}{"package_json": app, "node_version": "22.12.0"}
	want := fingerprintOf(t, base)
	for _, c := range []map[string]interface{}{
		{"node_version": "22.11.0"},
		{"node_installer": "nvm"},
		{"extra_packages": []string{"jq"}},
		{"packages": []string{"git"}},
		{"architecture": "arm64", "node_version": "22.11.0"},
		{"package_json": "../../provisioner/primal/testdata/nolock/package.json"},
	} {
		raw := map[string]interface{}{}
		for k, v := range base {
			raw[k] = v
		}
		for k, v := range c {
			raw[k] = v
		}
		if got := fingerprintOf(t, raw); got == want {
			t.Errorf("%v: same fingerprint as %v", c, base)
		}
	}
}

func fingerprintOf(t *testing.T, raw map[string]interface{}) string {
	t.Helper()
	out, err := configure(t, raw).compute(context.Background(), newClient())
	if err != nil {
		t.Fatal(err)
	}
	return out.Fingerprint
}

// A major or lts is resolved through the mirror's index.json, for the
// architecture's platform.
func TestResolvesThroughTheMirror(t *testing.T) {
	var auth atomic.Value
	url := mirror(t, func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		serveIndex(w, r)
	})
	for _, c := range []struct{ version, arch, want string }{
		{"22", "x86_64", "22.12.0"},
		{"lts", "x86_64", "22.12.0"},
		{"22", "arm64", "22.11.0"},
		{"20", "arm64", "20.18.1"},
	} {
		d := configure(t, map[string]interface{}{"node_version": c.version, "architecture": c.arch,
			"node_mirror": strings.Replace(url, "://", "://reader:s3cret@", 1)})
		out, err := d.compute(context.Background(), newClient())
		if err != nil {
			t.Fatalf("%s on %s: %v", c.version, c.arch, err)
		}
		if out.NodeVersion != c.want || out.Parts["node"] != "tarball/"+c.want || out.Parts["architecture"] != c.arch {
			t.Errorf("%s on %s = %s (parts %v), want %s", c.version, c.arch, out.NodeVersion, out.Parts, c.want)
		}
	}
	if a, _ := auth.Load().(string); !strings.HasPrefix(a, "Basic ") {
		t.Errorf("the mirror's credentials were not sent: Authorization %q", a)
	}
}

// A mirror that fails is retried; one that stays down fails the data
// source, naming the mirror without its credentials and what to do.
func TestUnreachableMirror(t *testing.T) {
	defer func(b time.Duration) { backoff = b }(backoff)
	backoff = 10 * time.Millisecond

	var n atomic.Int32
	flaky := mirror(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serveIndex(w, r)
	})
	out, err := configure(t, map[string]interface{}{"node_version": "lts", "node_mirror": flaky}).compute(context.Background(), newClient())
	if err != nil || out.NodeVersion != "22.12.0" || n.Load() != 3 {
		t.Errorf("after two 503s: %v, %v, %d requests", out, err, n.Load())
	}

	n.Store(0)
	down := mirror(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	})
	_, err = configure(t, map[string]interface{}{"node_version": "22",
		"node_mirror": strings.Replace(down, "://", "://reader:s3cret@", 1)}).compute(context.Background(), newClient())
	if err == nil || n.Load() != int32(attempts) {
		t.Fatalf("a mirror answering 502: err %v after %d requests, want an error after %d", err, n.Load(), attempts)
	}
	for _, want := range []string{`node-fingerprint: node_version "22" must be resolved`, "reader:xxxxx@127.0.0.1", "/dist/index.json", "HTTP 502", "set an exact node_version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the mirror's password", err)
	}

	// A 404 is not retried; a black hole is cut off by the timeout.
	n.Store(0)
	missing := mirror(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); http.NotFound(w, r) })
	if _, err := configure(t, map[string]interface{}{"node_version": "22", "node_mirror": missing}).compute(context.Background(), newClient()); err == nil || n.Load() != 1 {
		t.Errorf("a 404: err %v after %d requests, want an error after 1", err, n.Load())
	}
	hole := mirror(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d := configure(t, map[string]interface{}{"node_version": "22", "node_mirror": hole, "timeout": "300ms"})
	ctx, cancel := context.WithTimeout(context.Background(), d.config.Timeout)
	defer cancel()
	if _, err := d.compute(ctx, newClient()); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("a mirror that never answers: %v", err)
	}
}

// An exact version needs no mirror at all.
func TestExactVersionReadsNothing(t *testing.T) {
	var n atomic.Int32
	url := mirror(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) })
	if _, err := configure(t, map[string]interface{}{"node_version": "22.12.0", "node_mirror": url}).compute(context.Background(), newClient()); err != nil || n.Load() != 0 {
		t.Errorf("exact version: %v, %d requests", err, n.Load())
	}
}

func TestConfigureNamesTheField(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]interface{}
		want string
	}{
		{map[string]interface{}{"architecture": "i386"}, `architecture: must be one of x86_64, arm64, got "i386"`},
		{map[string]interface{}{"node_version": "latest"}, "node_version: "},
		{map[string]interface{}{"node_installer": "distro", "node_version": "22"}, "node_version: cannot be chosen with node_installer"},
		{map[string]interface{}{"node_installer": "brew"}, "node_installer: "},
		{map[string]interface{}{"packages": []string{"curl; rm -rf /"}}, "packages[0]: "},
		{map[string]interface{}{"package_json": "/nonexistent/package.json"}, "package_json: "},
		{map[string]interface{}{"lockfile": "x/yarn.lock", "package_json": app}, "lockfile: "},
		{map[string]interface{}{"node_mirror": "ftp://mirror"}, "node_mirror: "},
		{map[string]interface{}{"timeout": "-1s"}, "timeout: must not be negative"},
	} {
		err := (&Datasource{}).Configure(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Configure(%v) = %v, want an error with %q", c.raw, err, c.want)
		}
	}
}

func TestOutputSpecHasEveryField(t *testing.T) {
	spec := (&Datasource{}).OutputSpec()
	b, _ := json.Marshal(spec)
	for _, k := range []string{"fingerprint", "parts", "tags", "node_version"} {
		if _, ok := spec[k]; !ok {
			t.Errorf("output spec %s lacks %s", b, k)
		}
	}
}
