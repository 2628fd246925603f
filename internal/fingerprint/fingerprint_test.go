package fingerprint

import (
	"reflect"
	"strings"
	"testing"
)

var base = Inputs{
	Architecture: "x86_64", NodeInstaller: "tarball", NodeVersion: "22.12.0",
	Packages:       []string{"git", "make", "g++", "graphicsmagick", "curl"},
	DependencyFile: "package-lock.json", DependencySHA256: strings.Repeat("ab", 32),
}

// The definition is stable: a change to how parts are made changes every
// fingerprint, so it must come with a Recipe bump and this value updated.
func TestOfIsStable(t *testing.T) {
	f := Of(base)
	want := map[string]string{
		"recipe": "1", "architecture": "x86_64", "node": "tarball/22.12.0",
		"packages":     "sha256:439897a29de29c9b8f1a4cc841c24aa7",
		"dependencies": "package-lock.json:" + strings.Repeat("ab", 32),
	}
	if !reflect.DeepEqual(f.Parts, want) {
		t.Errorf("parts = %v\nwant    %v", f.Parts, want)
	}
	if err := Valid(f.Value); err != nil {
		t.Error(err)
	}
	if g := Of(base); g.Value != f.Value {
		t.Errorf("two computations differ: %s, %s", f.Value, g.Value)
	}
}

// Every input changes the fingerprint, and the part it belongs to; the
// order of the package list and duplicates in it do not.
func TestEachInputChangesIt(t *testing.T) {
	f := Of(base)
	for _, c := range []struct {
		name, part string
		edit       func(*Inputs)
	}{
		{"architecture", "architecture", func(i *Inputs) { i.Architecture = "arm64" }},
		{"node version", "node", func(i *Inputs) { i.NodeVersion = "22.12.1" }},
		{"installer", "node", func(i *Inputs) { i.NodeInstaller = "nvm" }},
		{"distro installer", "node", func(i *Inputs) { i.NodeInstaller, i.NodeVersion = "distro", "" }},
		{"a package more", "packages", func(i *Inputs) { i.Packages = append(i.Packages, "jq") }},
		{"a package pinned", "packages", func(i *Inputs) { i.Packages = []string{"git", "make", "g++", "graphicsmagick", "curl=7.88.1-10"} }},
		{"lockfile content", "dependencies", func(i *Inputs) { i.DependencySHA256 = strings.Repeat("cd", 32) }},
		{"package.json instead", "dependencies", func(i *Inputs) { i.DependencyFile = "package.json" }},
		{"no precache", "dependencies", func(i *Inputs) { i.DependencyFile, i.DependencySHA256 = "", "" }},
	} {
		in := base
		in.Packages = append([]string(nil), base.Packages...)
		c.edit(&in)
		g := Of(in)
		if g.Value == f.Value {
			t.Errorf("%s: the fingerprint did not change", c.name)
		}
		d := Diff(g.Parts, f.Parts)
		if len(d) != 1 || !strings.HasPrefix(d[0], c.part+" (") {
			t.Errorf("%s: Diff = %q, want only %s", c.name, d, c.part)
		}
	}
	in := base
	in.Packages = []string{"curl", "graphicsmagick", "g++", "make", "git", "curl"}
	if g := Of(in); g.Value != f.Value {
		t.Error("the order of packages, or a duplicate, changed the fingerprint")
	}
	in = base
	in.NodeVersion = "v22.12.0"
	if g := Of(in); g.Value != f.Value {
		t.Error(`a "v" before the version changed the fingerprint`)
	}
}

func TestTagsRoundTrip(t *testing.T) {
	f := Of(base)
	tags := f.Tags()
	if tags[TagKey] != f.Value || len(tags) != 1+len(Names) {
		t.Fatalf("tags = %v", tags)
	}
	for k, v := range tags {
		if len(v) > 256 || len(k) > 128 {
			t.Errorf("tag %s=%s is longer than EC2 allows", k, v)
		}
	}
	tags["Name"] = "ponyfoo-primal"
	if got := PartsFromTags(tags); !reflect.DeepEqual(got, f.Parts) {
		t.Errorf("PartsFromTags = %v, want %v", got, f.Parts)
	}
	if PartsFromTags(map[string]string{"Name": "x"}) != nil {
		t.Error("an image without part tags has parts")
	}
}

func TestDiff(t *testing.T) {
	want := Of(base).Parts
	have := map[string]string{"recipe": "1", "architecture": "arm64", "node": "tarball/22.11.0", "packages": want["packages"]}
	got := Diff(want, have)
	exp := []string{
		`architecture (image "arm64", wanted "x86_64")`,
		`node (image "tarball/22.11.0", wanted "tarball/22.12.0")`,
		`dependencies (image: no node:fingerprint:dependencies tag, wanted "package-lock.json:` + strings.Repeat("ab", 32) + `")`,
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, exp)
	}
	if d := Diff(want, want); d != nil {
		t.Errorf("Diff of equal parts = %q", d)
	}
}

func TestValidAndArchitecture(t *testing.T) {
	for _, bad := range []string{"", "abc", strings.Repeat("A", 64), strings.Repeat("a", 63) + "g", strings.Repeat("a", 65)} {
		if Valid(bad) == nil {
			t.Errorf("Valid(%q) = nil", bad)
		}
	}
	for m, want := range map[string]string{"x86_64": "x86_64", "amd64": "x86_64", "aarch64\n": "arm64", "arm64": "arm64", "s390x": "s390x"} {
		if got := Architecture(m); got != want {
			t.Errorf("Architecture(%q) = %q, want %q", m, got, want)
		}
	}
	if Machine("arm64") != "aarch64" || Machine("x86_64") != "x86_64" {
		t.Error("Machine does not invert Architecture")
	}
}
