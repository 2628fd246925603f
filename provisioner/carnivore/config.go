package carnivore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/nodebake/packer-plugin-node/internal/archive"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/service"
	"github.com/nodebake/packer-plugin-node/internal/validate"
)

var (
	userRE    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	envRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	relPathRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	absPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
	hostRE    = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	urlPathRE = regexp.MustCompile(`^/[A-Za-z0-9._~/?=&%-]*$`)
	noProxyRE = regexp.MustCompile(`^[A-Za-z0-9.,*:_\[\]/-]*$`)
)

var (
	validUser = validate.User
	validURL  = validate.URL
)

func (c *Config) setDefaults() {
	if c.Environment == "" {
		c.Environment = "production"
	}
	if c.Exclude == nil {
		c.Exclude = []string{".git", "node_modules"}
	}
	if c.Entrypoint == "" {
		c.Entrypoint = "cluster.js"
	}
	if c.AppPort == 0 {
		c.AppPort = 3000
	}
	if c.StaticRoot == "" {
		c.StaticRoot = ".bin/public"
	}
	if len(c.ServerName) == 0 {
		c.ServerName = []string{"_"}
	}
	if c.NginxWorkers == 0 {
		c.NginxWorkers = 4
	}
	if c.NginxPort == 0 {
		c.NginxPort = 8080
	}
	if c.PublicPort == 0 {
		c.PublicPort = 80
	}
	if c.ServiceManager == "" {
		c.ServiceManager = "auto"
	}
	if c.HealthPath == "" {
		c.HealthPath = "/"
	}
	if c.HealthStatus == 0 {
		c.HealthStatus = 200
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = 60 * time.Second
	}
}

// serviceName is the seed's NAME: <app>-<environment>.
func (c *Config) serviceName() string { return c.AppName + "-" + c.Environment }

// validate checks every field and returns all problems at once, each naming
// the field and the reason; it reads the local files and renders the nginx
// templates, so a broken override fails here, not on the machine.
func (c *Config) validate() error {
	var errs *packersdk.MultiError
	add := func(field, format string, a ...any) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	switch {
	case c.AppName == "":
		add("app_name", "is required")
	case !appNameRE.MatchString(c.AppName):
		add("app_name", "%q must be lowercase letters, digits and -, starting with a letter or digit, at most 40", c.AppName)
	}
	if !envRE.MatchString(c.Environment) {
		add("environment", "%q must be lowercase letters, digits, _ and -, at most 32", c.Environment)
	}
	if c.Source == "" {
		add("source", "is required: the local directory of the built app")
	} else if fi, err := os.Stat(c.Source); err != nil || !fi.IsDir() {
		add("source", "%q is not a directory", c.Source)
	} else {
		if !relPathRE.MatchString(c.Entrypoint) || strings.Contains("/"+c.Entrypoint+"/", "/../") {
			add("entrypoint", "%q is not a relative path inside source (letters, digits, . _ - and /)", c.Entrypoint)
		} else if _, err := os.Stat(filepath.Join(c.Source, c.Entrypoint)); err != nil {
			add("entrypoint", "%s is not in source %s", c.Entrypoint, c.Source)
		} else if archive.Excluded(c.Entrypoint, c.Exclude) {
			add("entrypoint", "%s is left out of the upload by exclude", c.Entrypoint)
		}
		c.readLockfile()
	}
	for i, p := range c.Exclude {
		if err := archive.ValidPattern(p); err != nil {
			add(fmt.Sprintf("exclude[%d]", i), "%v", err)
		}
	}
	if !relPathRE.MatchString(c.StaticRoot) || strings.Contains("/"+c.StaticRoot+"/", "/../") {
		add("static_root", "%q is not a relative path inside source", c.StaticRoot)
	}
	for i, h := range c.ServerName {
		if h != "_" && (!hostRE.MatchString(h) || len(h) > 253) {
			add(fmt.Sprintf("server_name[%d]", i), "%q is not a host name (lowercase labels of letters, digits and -, optionally *. first, or _)", h)
		}
	}
	if c.NginxWorkers < 0 || c.NginxWorkers > 1024 {
		add("nginx_workers", "%d is not a number of workers (1-1024, or 0 for auto)", c.NginxWorkers)
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"app_port", c.AppPort}, {"nginx_port", c.NginxPort}, {"public_port", c.PublicPort}} {
		if p.port < 1 || p.port > 65535 {
			add(p.field, "%d is not a TCP port (1-65535)", p.port)
		}
	}
	if c.AppPort == c.NginxPort {
		add("app_port", "must differ from nginx_port (%d)", c.NginxPort)
	}
	if !slices.Contains(service.Managers, c.ServiceManager) {
		add("service_manager", "%q is not one of %s", c.ServiceManager, strings.Join(service.Managers, ", "))
	}
	if c.InstanceUser != "" {
		if err := validUser(c.InstanceUser); err != nil {
			add("instance_user", "%v", err)
		} else if c.InstanceUser == "root" {
			add("instance_user", "must not be root: nginx and the app run as this user")
		}
	}
	if c.PrecacheDir != "" {
		if err := validate.AbsPath(c.PrecacheDir); err != nil {
			add("precache_dir", "%v", err)
		}
	}
	if c.NpmRegistry != "" {
		if err := precache.ValidRegistry(c.NpmRegistry); err != nil {
			add("npm_registry", "%v", err)
		}
	}
	for _, p := range []struct{ field, value string }{{"http_proxy", c.HTTPProxy}, {"https_proxy", c.HTTPSProxy}} {
		if p.value != "" {
			if err := validURL(p.value); err != nil {
				add(p.field, "%v", err)
			}
		}
	}
	if err := validate.NoProxy(c.NoProxy); err != nil {
		add("no_proxy", "%v", err)
	}
	if !urlPathRE.MatchString(c.HealthPath) {
		add("health_path", "%q is not a URL path (starting with /)", c.HealthPath)
	}
	if c.HealthStatus < 100 || c.HealthStatus > 599 {
		add("health_status", "%d is not an HTTP status", c.HealthStatus)
	}
	if c.HealthTimeout < time.Second {
		add("health_timeout", "must be at least 1s, got %s", c.HealthTimeout)
	}
	c.envJSON = nil
	if c.EnvFile != "" {
		b, err := os.ReadFile(c.EnvFile)
		var obj map[string]any
		switch {
		case err != nil:
			add("env_file", "%v", err)
		case json.Unmarshal(b, &obj) != nil:
			// Never quote the content: it is a secret.
			add("env_file", "%s is not a JSON object", c.EnvFile)
		default:
			c.envJSON = b
		}
	}
	c.mainTpl, c.siteTpl = nginx.DefaultTemplate("nginx.conf"), nginx.DefaultTemplate("site.conf")
	for _, o := range []struct {
		field, path string
		tpl         *nginx.Template
	}{{"nginx_conf", c.NginxConf, &c.mainTpl}, {"site_conf", c.SiteConf, &c.siteTpl}} {
		if o.path == "" {
			continue
		}
		t, err := nginx.LoadTemplate(o.path)
		if err != nil {
			add(o.field, "%v", err)
			continue
		}
		if _, err := t.Render(c.site("/home/admin", "admin")); err != nil {
			add(o.field, "%v", err)
			continue
		}
		*o.tpl = t
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// readLockfile finds the app's lockfile, whose SHA-256 decides whether the
// primal image's precache can be reused.
func (c *Config) readLockfile() {
	c.lockfileName, c.lockfileSHA = "", ""
	for _, name := range precache.Lockfiles {
		if b, err := os.ReadFile(filepath.Join(c.Source, name)); err == nil {
			c.lockfileName, c.lockfileSHA = name, precache.SHA256(b)
			return
		}
	}
}

func (c *Config) workers() string {
	if c.NginxWorkers == 0 {
		return "auto"
	}
	return strconv.Itoa(c.NginxWorkers)
}

// secrets are the env file's string values, scrubbed from all output.
func (c *Config) secrets() []string {
	var obj map[string]any
	if json.Unmarshal(c.envJSON, &obj) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 4 {
				out = append(out, v)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(obj)
	return out
}
