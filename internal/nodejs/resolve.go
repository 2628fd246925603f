package nodejs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Release is one entry of a dist mirror's index.json.
type Release struct {
	Version string          `json:"version"` // "v22.12.0"
	Date    string          `json:"date"`
	Files   []string        `json:"files"`
	NPM     string          `json:"npm"`
	LTS     json.RawMessage `json:"lts"` // false, or the LTS line's codename
}

// IsLTS reports whether the release belongs to an LTS line.
func (r Release) IsLTS() bool {
	s := strings.TrimSpace(string(r.LTS))
	return s != "" && s != "false" && s != "null"
}

var (
	exactRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	majorRE = regexp.MustCompile(`^v?([1-9][0-9]*)$`)
)

// ValidVersionSpec checks a node_version: an exact version ("22.12.0"), a
// major ("22") or "lts".
func ValidVersionSpec(spec string) error {
	if spec == "lts" || exactRE.MatchString(spec) || majorRE.MatchString(spec) {
		return nil
	}
	return fmt.Errorf("%q is not a Node.js version: use an exact version (22.12.0), a major (22) or lts", spec)
}

// Exact returns the exact version spec names ("22.12.0"), if it names one.
func Exact(spec string) (string, bool) {
	if exactRE.MatchString(spec) {
		return strings.TrimPrefix(spec, "v"), true
	}
	return "", false
}

// Resolve picks the newest release in index (a mirror's index.json) that
// matches spec and ships a build for platform ("linux-x64"). It returns the
// version without the leading "v".
func Resolve(index []byte, spec, platform string) (string, error) {
	var releases []Release
	if err := json.Unmarshal(index, &releases); err != nil {
		return "", fmt.Errorf("index.json: %w", err)
	}
	var best []int
	bestName := ""
	for _, r := range releases {
		m := exactRE.FindStringSubmatch(r.Version)
		if m == nil || !hasFile(r.Files, platform) {
			continue
		}
		v := []int{atoi(m[1]), atoi(m[2]), atoi(m[3])}
		switch {
		case spec == "lts":
			if !r.IsLTS() {
				continue
			}
		case majorRE.MatchString(spec):
			if strconv.Itoa(v[0]) != strings.TrimPrefix(spec, "v") {
				continue
			}
		default:
			if e, _ := Exact(spec); e != strings.TrimPrefix(r.Version, "v") {
				continue
			}
		}
		if best == nil || less(best, v) {
			best, bestName = v, strings.TrimPrefix(r.Version, "v")
		}
	}
	if best == nil {
		return "", fmt.Errorf("node_version %q: no release for %s in the mirror's index.json", spec, platform)
	}
	return bestName, nil
}

// Checksum finds file's SHA-256 in a SHASUMS256.txt.
func Checksum(shasums []byte, file string) (string, error) {
	for _, line := range strings.Split(string(shasums), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == file {
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(f[0]) {
				return "", fmt.Errorf("SHASUMS256.txt: %q is not a SHA-256 for %s", f[0], file)
			}
			return f[0], nil
		}
	}
	return "", fmt.Errorf("SHASUMS256.txt has no line for %s", file)
}

func hasFile(files []string, platform string) bool {
	for _, f := range files {
		if f == platform {
			return true
		}
	}
	return false
}

func less(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
