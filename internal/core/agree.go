package core

import (
	"fmt"
	"strconv"

	"github.com/nodebake/packer-plugin-node/internal/precache"
)

// CheckManifest compares the settings node-primal recorded in its manifest
// m with this build's (the instance user of f, and precacheDir), and
// returns every disagreement as an error naming the setting, so a
// node-carnivore build fails before it touches the machine instead of
// shipping an image whose nginx listens where no redirect points.
func (c *Config) CheckManifest(m *precache.Manifest, f Facts, precacheDir string) error {
	var errs Errors
	for _, d := range []struct {
		field, image, build string
	}{
		{"instance_user", m.InstanceUser, f.User},
		{"public_port", strconv.Itoa(m.PublicPort), strconv.Itoa(c.PublicPort)},
		{"nginx_port", strconv.Itoa(m.NginxPort), strconv.Itoa(c.NginxPort)},
	} {
		if d.image != d.build {
			errs.Add(d.field, "node-primal made this image with %s = %s (recorded in %s), this build has %s: set %s = %s, or rebuild the primal image",
				d.field, d.image, precache.ManifestPath, d.build, d.field, d.image)
		}
	}
	if m.Precache != nil && m.Precache.Dir != precacheDir {
		errs.Add("precache_dir", "node-primal precached the dependencies in %s (recorded in %s), this build looks in %s: set precache_dir = %q",
			m.Precache.Dir, precache.ManifestPath, precacheDir, m.Precache.Dir)
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("this build disagrees with the primal image it runs on:\n%w", err)
	}
	return nil
}
