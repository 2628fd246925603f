package primal

import (
	"fmt"
	"regexp"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/sysctl"
)

const defaultDpkgLockTimeout = 10 * time.Minute

// userRE is the user-name grammar of Debian's adduser (NAME_REGEX), without
// the trailing '$' of machine accounts.
var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

func validUser(u string) error {
	if !userRE.MatchString(u) {
		return fmt.Errorf("%q is not a user name (lowercase letter or _, then lowercase letters, digits, _ or -, at most 32)", u)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Packages == nil {
		c.Packages = append([]string(nil), DefaultPackages...)
	}
	if c.DpkgLockTimeout == 0 {
		c.DpkgLockTimeout = defaultDpkgLockTimeout
	}
}

// validate checks every field and returns all problems at once, each naming
// the field and the reason.
func (c *Config) validate() error {
	var errs *packersdk.MultiError
	add := func(field, format string, a ...any) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.InstanceUser != "" {
		if err := validUser(c.InstanceUser); err != nil {
			add("instance_user", "%v", err)
		} else if c.InstanceUser == "root" {
			add("instance_user", "must not be root: nginx and the app run as this user")
		}
	}
	for field, list := range map[string][]string{"packages": c.Packages, "extra_packages": c.ExtraPackages} {
		for i, p := range list {
			if err := apt.ValidPackage(p); err != nil {
				add(fmt.Sprintf("%s[%d]", field, i), "%v", err)
			}
		}
	}
	for _, k := range sortedKeys(c.Sysctl) {
		if err := sysctl.ValidKey(k); err != nil {
			add("sysctl", "%v", err)
		}
		if err := sysctl.ValidValue(c.Sysctl[k]); err != nil {
			add(fmt.Sprintf("sysctl[%q]", k), "%v", err)
		}
	}
	if c.DpkgLockTimeout < 0 {
		add("dpkg_lock_timeout", "must not be negative, got %s", c.DpkgLockTimeout)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}
