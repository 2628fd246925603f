// Package validate holds the grammars that user values must match before
// they reach a shell script or a config file on the machine. Each check
// returns an error that says what the value should look like; callers
// prefix it with the field's name.
package validate

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

var (
	// userRE is Debian adduser's NAME_REGEX, without the '$' of machine accounts.
	userRE    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	absPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
	noProxyRE = regexp.MustCompile(`^[A-Za-z0-9.,*:_\[\]/-]*$`)
)

// User checks a Unix user or group name.
func User(u string) error {
	if !userRE.MatchString(u) {
		return fmt.Errorf("%q is not a user name (lowercase letter or _, then lowercase letters, digits, _ or -, at most 32)", u)
	}
	return nil
}

// URL checks an http(s) URL that will be written into scripts and config
// files. Its errors never show a password it carries.
func URL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", Redacted(s))
	}
	if strings.ContainsAny(s, " \t\r\n\"'`\\") {
		return fmt.Errorf("%q contains spaces, quotes or backslashes", Redacted(s))
	}
	return nil
}

// Redacted is s with the credentials it may carry before an @ (user:password
// or a token) replaced, for messages; it works on strings url.Parse refuses.
func Redacted(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 && !strings.Contains(rest[:i], "/") {
		rest = "xxxxx" + rest[i:]
	}
	if ok {
		return scheme + "://" + rest
	}
	return rest
}

// AbsPath checks a clean absolute path of plain characters.
func AbsPath(p string) error {
	if !absPathRE.MatchString(p) || path.Clean(p) != p || strings.Contains(p, "/..") {
		return fmt.Errorf("%q is not a clean absolute path (letters, digits, . _ - between slashes)", p)
	}
	return nil
}

// NoProxy checks a no_proxy list.
func NoProxy(s string) error {
	if !noProxyRE.MatchString(s) {
		return fmt.Errorf("%q is not a comma-separated list of hosts, domains or CIDRs", s)
	}
	return nil
}

// systemTrees are directories whose whole tree belongs to the system.
var systemTrees = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
	"/run", "/sbin", "/sys", "/tmp", "/usr/bin", "/usr/include", "/usr/lib", "/usr/libexec", "/usr/sbin",
	"/usr/share", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/var/lib/dpkg", "/var/lib/apt",
	"/var/log", "/var/tmp", "/var/spool", "/var/mail", "/root"}

// systemDirs are directories that hold others' files, though a directory
// inside them may be an app's own (/srv/app, /opt/app, /var/lib/app).
var systemDirs = []string{"/", "/home", "/media", "/mnt", "/opt", "/srv", "/usr", "/usr/local", "/var",
	"/var/lib", "/var/cache", "/var/opt", "/var/www"}

// NotSystemDir refuses a clean absolute path that is a system directory or
// inside one, where a step that empties and chowns its directory would
// break the machine.
func NotSystemDir(p string) error {
	for _, d := range systemDirs {
		if p == d {
			return fmt.Errorf("%s is a system directory", p)
		}
	}
	for _, d := range systemTrees {
		if p == d || strings.HasPrefix(p, d+"/") {
			return fmt.Errorf("%s is in the system directory %s", p, d)
		}
	}
	return nil
}
