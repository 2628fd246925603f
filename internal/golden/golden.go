// Package golden is the test helper of every package that renders steps:
// it compares rendered text with testdata/<name>.golden, and checks that
// every script, after the prelude, parses as POSIX shell. `go test ./...
// -update` rewrites the files; review the diff like any other change.
package golden

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Prelude is the prelude of the per-package tests: the instance user admin
// of a Debian cloud image, a proxy, the default lock timeout.
var Prelude = runner.Prelude{
	Env:  map[string]string{"https_proxy": "http://proxy.example.test:3128", "HTTPS_PROXY": "http://proxy.example.test:3128"},
	User: "admin", Home: "/home/admin", Node: "/usr/local/bin/node",
	CABundle: "/etc/ssl/certs/ca-certificates.crt", DpkgLockTimeout: 10 * time.Minute,
}.Render()

// Check compares got with testdata/<name>.golden, or writes it under -update.
// A golden file that cannot be written fails the test: a silent -update
// would let the next run compare with stale text.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("-update: cannot create %s: %v", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("-update: cannot write %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update and review the diff); got:\n%s", path, got)
	}
}

// Steps renders steps as a plan does, checks that each script parses with
// the prelude as /bin/sh reads it, and compares the text with the golden file.
func Steps(t testing.TB, name string, steps ...plan.Step) {
	t.Helper()
	var b strings.Builder
	for i, s := range steps {
		Syntax(t, s.Name, Prelude+s.Script)
		b.WriteString(s.Render(i + 1))
	}
	Check(t, name, b.String())
}

// Syntax fails the test when script does not parse (sh -n): a template that
// renders a broken script is caught before any machine runs it.
func Syntax(t testing.TB, what, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: the script does not parse: %v\n%s", what, err, out)
	}
}
