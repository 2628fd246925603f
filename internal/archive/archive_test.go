package archive

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestExcluded(t *testing.T) {
	pats := []string{".git", "node_modules", "*.log", "tmp/cache"}
	for rel, want := range map[string]bool{
		".git":                  true,
		".git/config":           true,
		"lib/node_modules/x.js": true,
		"debug.log":             true,
		"logs/app.log":          true,
		"tmp/cache/a":           true,
		"tmp/other":             false,
		"src/tmp/cache":         false,
		"cluster.js":            false,
		".bin/public/hello.txt": false,
		"gitignored/.gitkeep":   false,
		"node_modules_notes.md": false,
	} {
		if got := Excluded(rel, pats); got != want {
			t.Errorf("Excluded(%q) = %v; want %v", rel, got, want)
		}
	}
}

func TestStreamRoundTrip(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"cluster.js":              "require('./app')\n",
		".bin/public/hello.txt":   "static\n",
		"node_modules/x/index.js": "excluded\n",
		".git/HEAD":               "excluded\n",
		"it's here/a b.txt":       "odd names survive\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("cluster.js", filepath.Join(dir, "main.js")); err != nil {
		t.Fatal(err)
	}
	r := Stream(dir, []string{".git", "node_modules"})
	defer r.Close()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Uname != "" {
			t.Errorf("%s carries an owner (%d %q)", h.Name, h.Uid, h.Uname)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			got[h.Name] = string(b)
			if h.Mode&0o777 != 0o640 {
				t.Errorf("%s mode = %o; want 640", h.Name, h.Mode&0o777)
			}
		case tar.TypeSymlink:
			got[h.Name] = "-> " + h.Linkname
		}
	}
	sort.Strings(names)
	want := map[string]string{
		"cluster.js":            files["cluster.js"],
		".bin/public/hello.txt": files[".bin/public/hello.txt"],
		"it's here/a b.txt":     files["it's here/a b.txt"],
		"main.js":               "-> cluster.js",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("archive[%q] = %q; want %q", k, got[k], v)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".git") || strings.HasPrefix(n, "node_modules") {
			t.Errorf("excluded entry %s is in the archive", n)
		}
	}
	n, _, err := Count(dir, []string{".git", "node_modules"})
	if err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want 3 regular files", n, err)
	}
}

func TestStreamReportsMissingDir(t *testing.T) {
	r := Stream(filepath.Join(t.TempDir(), "nope"), nil)
	if _, err := io.ReadAll(r); err == nil {
		t.Error("reading the stream of a missing directory did not fail")
	}
}
