package nodejs

import (
	"fmt"
	"time"
)

// distroMajor is the Node.js major each supported release's own nodejs
// package carries (node_installer = "distro").
var distroMajor = map[string]int{
	"debian 12":    18,
	"debian 13":    20,
	"ubuntu 22.04": 12,
	"ubuntu 24.04": 18,
}

// endOfLife is when each of those majors stopped getting security fixes
// from the Node.js project (its release schedule).
var endOfLife = map[int]time.Time{
	12: time.Date(2022, 4, 30, 0, 0, 0, 0, time.UTC),
	18: time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC),
	20: time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC),
}

// DistroWarning is what a build with node_installer = "distro" on distro
// ("debian 12") says at time now when that release's Node.js is past its
// end of life, "" otherwise.
func DistroWarning(distro string, now time.Time) string {
	major, ok := distroMajor[distro]
	if !ok {
		return ""
	}
	eol, ok := endOfLife[major]
	if !ok || now.Before(eol) {
		return ""
	}
	return fmt.Sprintf("WARNING: node_installer = \"distro\" installs %s's Node.js %d, past its end of life since %s: "+
		"the Node.js project no longer fixes its security bugs, and the distribution backports only some. "+
		"Use node_installer = \"tarball\" with a maintained node_version.", distro, major, eol.Format("2006-01-02"))
}
