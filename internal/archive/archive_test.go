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

func TestExcludedAnchorsALeadingSlash(t *testing.T) {
	for rel, want := range map[string]bool{
		"dist":          true,
		"dist/app.js":   true,
		"src/dist":      false,
		"src/dist/a.js": false,
	} {
		if got := Excluded(rel, []string{"/dist"}); got != want {
			t.Errorf("Excluded(%q, /dist) = %v; want %v", rel, got, want)
		}
	}
	for _, rel := range []string{".env", "config/.env", ".npmrc", ".git/HEAD", "node_modules/x/index.js", "a/node_modules/b"} {
		if !Excluded(rel, DefaultExcludes) {
			t.Errorf("the defaults upload %s", rel)
		}
	}
}

// TestSymlinkedSourceIsFollowed: a source that is itself a link (a
// "current" build) uploads what it points to, not an empty archive.
func TestSymlinkedSourceIsFollowed(t *testing.T) {
	dir := t.TempDir()
	build := filepath.Join(dir, "build-42")
	os.MkdirAll(filepath.Join(build, "lib"), 0o755)
	os.WriteFile(filepath.Join(build, "cluster.js"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(build, "lib", "app.js"), []byte("y"), 0o644)
	current := filepath.Join(dir, "current")
	if err := os.Symlink("build-42", current); err != nil {
		t.Fatal(err)
	}
	files, _, err := Count(current, DefaultExcludes)
	if err != nil || files != 2 {
		t.Errorf("Count(a linked source) = %d files, %v; want 2", files, err)
	}
}

func TestCheckLinks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app", "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "lib", "a.js"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o644)
	app := filepath.Join(dir, "app")
	os.Symlink("lib/a.js", filepath.Join(app, "main.js"))
	if err := CheckLinks(app, DefaultExcludes); err != nil {
		t.Errorf("a link inside the app was refused: %v", err)
	}
	os.Symlink("../../secret", filepath.Join(app, "lib", "outside.js"))
	err := CheckLinks(app, DefaultExcludes)
	if err == nil || !strings.Contains(err.Error(), "lib/outside.js is a link to ../../secret, outside the app") {
		t.Errorf("a link outside the app: %v", err)
	}
	if err := CheckLinks(app, append([]string{"outside.js"}, DefaultExcludes...)); err != nil {
		t.Errorf("an excluded link was refused: %v", err)
	}
	os.Remove(filepath.Join(app, "lib", "outside.js"))
	os.Symlink("/etc/passwd", filepath.Join(app, "passwd"))
	if err := CheckLinks(app, DefaultExcludes); err == nil || !strings.Contains(err.Error(), "passwd is a link to /etc/passwd") {
		t.Errorf("an absolute link outside the app: %v", err)
	}
}
