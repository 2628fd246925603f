package precache

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestNpmrc(t *testing.T) {
	cases := map[string]string{
		"https://npm.example.test":        "registry=https://npm.example.test\n//npm.example.test/:_authToken=T\n",
		"https://npm.example.test/org/x/": "registry=https://npm.example.test/org/x/\n//npm.example.test/org/x/:_authToken=T\n",
		"http://127.0.0.1:4873/":          "registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=T\n",
	}
	for reg, want := range cases {
		if got := Npmrc(reg, "T"); got != want {
			t.Errorf("Npmrc(%q) = %q; want %q", reg, got, want)
		}
	}
}

func TestValidTokenAndRegistry(t *testing.T) {
	for _, ok := range []string{"npm_AbC123", "abc.def-ghi_jkl~+/=", "c2VjcmV0OnBhc3M="} {
		if err := ValidToken(ok); err != nil {
			t.Errorf("ValidToken(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a\nb", "a#b", "a;b"} {
		if err := ValidToken(bad); err == nil {
			t.Errorf("ValidToken(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"registry", "ftp://x/", "https://u:p@x/", "https://x/?a=b", "https://x/ y"} {
		if err := ValidRegistry(bad); err == nil {
			t.Errorf("ValidRegistry(%q) accepted", bad)
		}
	}
}

// TestMeasureCountsTopLevelPackages runs Measure's script on a tree made
// here: plain and scoped packages count one each; a scope directory, a
// nested package and a stray file do not.
func TestMeasureCountsTopLevelPackages(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"express", "@types/node", "@types/express", "express/node_modules/debug"} {
		os.MkdirAll(filepath.Join(dir, "node_modules", p), 0o755)
		os.WriteFile(filepath.Join(dir, "node_modules", p, "package.json"), []byte("{}"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "node_modules", ".package-lock.json"), []byte("{}"), 0o644)
	run := func(ctx context.Context, cmd string) (string, error) {
		out, err := exec.CommandContext(ctx, "/bin/sh", "-c", cmd).Output()
		return string(out), err
	}
	n, kib, err := Measure(context.Background(), run, dir)
	if err != nil || n != 3 || kib <= 0 {
		t.Errorf("Measure = %d packages, %d KiB, %v; want 3 packages and a size", n, kib, err)
	}
	if n, kib, err := Measure(context.Background(), run, filepath.Join(dir, "none")); err != nil || n != 0 || kib != 0 {
		t.Errorf("Measure of a missing precache = %d, %d, %v; want 0, 0, nil", n, kib, err)
	}
}
