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

// URL checks an http(s) URL that will be written into scripts and config files.
func URL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if strings.ContainsAny(s, " \t\r\n\"'`\\") {
		return fmt.Errorf("%q contains spaces, quotes or backslashes", s)
	}
	return nil
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
