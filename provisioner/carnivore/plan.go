package carnivore

import (
	"fmt"
	"io"
	"path"

	"github.com/nodebake/packer-plugin-node/internal/archive"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/release"
	"github.com/nodebake/packer-plugin-node/internal/service"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

// Facts are what the plan needs to know about the machine.
type Facts struct {
	User, Group, Home string
}

func (c *Config) site(home, user string) nginx.Site {
	return nginx.Site{
		Name:        c.serviceName(),
		User:        user,
		Workers:     c.workers(),
		ServerNames: c.ServerName,
		StaticRoot:  path.Join(home, "app", "server", c.StaticRoot),
		AppPort:     c.AppPort,
		NginxPort:   c.NginxPort,
		PublicPort:  c.PublicPort,
	}
}

// Plan is what node-carnivore does to the machine, in order.
func (c *Config) Plan(f Facts) (plan.Plan, error) {
	if err := validUser(f.User); err != nil {
		return plan.Plan{}, fmt.Errorf("instance_user: %v", err)
	}
	if validate.AbsPath(f.Home) != nil || validate.User(f.Group) != nil {
		return plan.Plan{}, fmt.Errorf("instance_user: unusable home %q or group %q", f.Home, f.Group)
	}
	l := release.Layout{User: f.User, Group: f.Group, AppDir: path.Join(f.Home, "app")}
	site := c.site(f.Home, f.User)
	mainConf, err := c.mainTpl.Render(site)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("nginx_conf: %w", err)
	}
	siteConf, err := c.siteTpl.Render(site)
	if err != nil {
		return plan.Plan{}, fmt.Errorf("site_conf: %w", err)
	}
	precacheDir := c.PrecacheDir
	if precacheDir == "" {
		precacheDir = path.Join(f.Home, "app", "precache")
	}
	files, size, _ := archive.Count(c.Source, c.Exclude)
	src, exclude := c.Source, c.Exclude
	var p plan.Plan
	p.Add(
		release.Unpack(l, fmt.Sprintf("tar.gz of %s, %d files, %d bytes before compression, excluding %q", src, files, size, exclude),
			func() io.ReadCloser { return archive.Stream(src, exclude) }, c.envJSON),
		release.Dependencies(l, precacheDir, c.lockfileName, c.lockfileSHA, c.NpmRegistry),
		nginx.Configure(c.serviceName(), mainConf, siteConf),
		release.Switch(l),
		service.Install(c.ServiceManager, service.App{
			Name: c.serviceName(), User: f.User, Group: f.Group,
			Dir: l.Current(), Node: "/usr/local/bin/node", Entrypoint: c.Entrypoint,
			Env: []string{
				"NODE_ENV=" + c.Environment,
				fmt.Sprintf("PORT=%d", c.AppPort),
				"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
			},
		}),
		service.HealthGate(c.serviceName(), fmt.Sprintf("http://127.0.0.1:%d%s", c.PublicPort, c.HealthPath), c.HealthStatus, c.HealthTimeout),
	)
	return p, nil
}

// env is the build-time environment of every step (proxies only).
func (c *Config) env() map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{
		"http_proxy": c.HTTPProxy, "https_proxy": c.HTTPSProxy, "no_proxy": c.NoProxy,
	} {
		if v != "" {
			env[k] = v
		}
	}
	return env
}
