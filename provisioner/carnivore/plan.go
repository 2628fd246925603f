package carnivore

import (
	"fmt"
	"io"
	"path"

	"github.com/nodebake/packer-plugin-node/internal/archive"
	"github.com/nodebake/packer-plugin-node/internal/cacerts"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/nodejs"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/release"
	"github.com/nodebake/packer-plugin-node/internal/service"
)

// site is the data the nginx templates are rendered with.
func (c *Config) site(f core.Facts) nginx.Site {
	return nginx.Site{
		Name:        c.serviceName(),
		User:        nginx.WorkerUser,
		Workers:     c.workers(),
		ServerNames: c.ServerName,
		StaticRoot:  path.Join(layout(f).Current(), c.StaticRoot),
		AppPort:     c.AppPort,
		NginxPort:   c.NginxPort,
		PublicPort:  c.PublicPort,
	}
}

// layout is where the app lives for the instance user of f.
func layout(f core.Facts) release.Layout {
	return release.Layout{User: f.User, Group: f.Group, AppDir: path.Join(f.Home, "app")}
}

// Plan is what node-carnivore does to the machine, in order, for the facts
// f and the precache verdict v.
func (c *Config) Plan(f core.Facts, v precache.Verdict) (plan.Plan, error) {
	l := layout(f)
	site := c.site(f)
	mainConf, err := c.mainTpl.Render(site)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("nginx_conf: %w", err)
	}
	siteConf, err := c.siteTpl.Render(site)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("site_conf: %w", err)
	}
	src, exclude := c.Source, c.excludes()
	files, size, _ := archive.Count(src, exclude)
	p := plan.Plan{Prelude: c.Prelude(f, core.DefaultDpkgLockTimeout)}
	p.Add(
		service.CheckName(c.serviceName()),
		release.Unpack(l, fmt.Sprintf("tar.gz of %s, %d files, %d bytes before compression, excluding %q", src, files, size, exclude),
			func() io.ReadCloser { return archive.Stream(src, exclude) }, c.envJSON),
		release.Dependencies(l, c.PrecacheDirFor(f.Home), v, c.deps.Lockfile != "", c.NpmAuditSignatures),
		nginx.Configure(c.serviceName(), mainConf, siteConf),
		release.Switch(l),
		service.Install(service.Resolve(c.ServiceManager, f.Systemd), service.App{
			Name: c.serviceName(), User: f.User, Group: f.Group,
			Dir: l.Current(), Node: nodejs.Bin, Entrypoint: c.Entrypoint,
			Env: []string{
				"NODE_ENV=" + c.Environment,
				fmt.Sprintf("PORT=%d", c.AppPort),
				"NODE_EXTRA_CA_CERTS=" + cacerts.Bundle,
			},
		}),
		service.HealthGate(c.serviceName(), fmt.Sprintf("http://127.0.0.1:%d%s", c.PublicPort, c.HealthPath), c.HealthStatus, c.HealthTimeout),
	)
	return p, nil
}
