package carnivore

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/archive"
	"github.com/nodebake/packer-plugin-node/internal/core"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/precache"
	"github.com/nodebake/packer-plugin-node/internal/service"
)

// The grammars of node-carnivore's own settings; the shared ones live in
// package validate.
var (
	appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	envRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	relPathRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	hostRE    = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	urlPathRE = regexp.MustCompile(`^/[A-Za-z0-9._~/?=&%-]*$`)
)

// SetDefaults fills in every default. It reads no file.
func (c *Config) SetDefaults() {
	c.Config.SetDefaults()
	if c.Environment == "" {
		c.Environment = "production"
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
	if c.NginxWorkers == nil {
		four := 4
		c.NginxWorkers = &four
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

// serviceName is the app's service: <app>-<environment>.
func (c *Config) serviceName() string { return c.AppName + "-" + c.Environment }

// Load reads the local files: the app's source directory (its entrypoint,
// package.json and lockfile), the env file and the nginx overrides, so a
// missing or malformed one fails `packer validate`; and sbom_output's
// directory must exist.
func (c *Config) Load(add core.AddFunc) {
	if c.SBOMOutput != "" {
		if fi, err := os.Stat(filepath.Dir(c.SBOMOutput)); err != nil || !fi.IsDir() {
			add("sbom_output", "the directory of %s does not exist", c.SBOMOutput)
		} else if fi, err := os.Stat(c.SBOMOutput); err == nil && fi.IsDir() {
			add("sbom_output", "%s is a directory; give the file to write", c.SBOMOutput)
		}
	}
	c.envJSON, c.deps = nil, precache.Want{}
	if c.Source != "" {
		if fi, err := os.Stat(c.Source); err != nil || !fi.IsDir() {
			add("source", "%q is not a directory", c.Source)
		} else {
			if validRelPath(c.Entrypoint) {
				if _, err := os.Stat(filepath.Join(c.Source, c.Entrypoint)); err != nil {
					add("entrypoint", "%s is not in source %s", c.Entrypoint, c.Source)
				}
			}
			c.deps = readDeps(c.Source)
			if err := archive.CheckLinks(c.Source, c.excludes()); err != nil {
				add("source", "%v", err)
			}
		}
	}
	if c.EnvFile != "" {
		c.envJSON = core.ReadJSONObject(add, "env_file", c.EnvFile)
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
		if err := t.Check(); err != nil {
			add(o.field, "%v", err)
			continue
		}
		*o.tpl = t
	}
}

// readDeps reads the app's package.json and lockfile, whose SHA-256 decide
// whether the primal image's precache can be used as it is.
func readDeps(source string) precache.Want {
	var w precache.Want
	if b, err := os.ReadFile(filepath.Join(source, "package.json")); err == nil {
		w.PackageJSONSHA256 = precache.SHA256(b)
	}
	for _, name := range precache.Lockfiles {
		if b, err := os.ReadFile(filepath.Join(source, name)); err == nil {
			w.Lockfile, w.LockfileSHA256 = name, precache.SHA256(b)
			break
		}
	}
	return w
}

// excludes are the patterns left out of the upload: the defaults, always,
// and the user's.
func (c *Config) excludes() []string {
	return append(append([]string(nil), archive.DefaultExcludes...), c.Exclude...)
}

// want is what the app needs of the precache in the instance user's home.
func (c *Config) want(f core.Facts) precache.Want {
	w := c.deps
	w.Dir = c.PrecacheDirFor(f.Home)
	return w
}

func validRelPath(p string) bool {
	return relPathRE.MatchString(p) && !strings.Contains("/"+p+"/", "/../")
}

// Validate checks every field, reporting each problem through add with the
// field's name and the reason. It reads no file.
func (c *Config) Validate(add core.AddFunc) {

	c.Config.Validate(add)
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
	}
	if !validRelPath(c.Entrypoint) {
		add("entrypoint", "%q is not a relative path inside source (letters, digits, . _ - and /)", c.Entrypoint)
	} else if archive.Excluded(c.Entrypoint, c.excludes()) {
		add("entrypoint", "%s is left out of the upload by exclude", c.Entrypoint)
	}
	for i, p := range c.Exclude {
		if err := archive.ValidPattern(p); err != nil {
			add(fmt.Sprintf("exclude[%d]", i), "%v", err)
		}
	}
	if !validRelPath(c.StaticRoot) {
		add("static_root", "%q is not a relative path inside source", c.StaticRoot)
	} else if path.Clean(c.StaticRoot) == "." {
		add("static_root", "%q is the app's root: nginx would serve its sources and .env.json; name the directory of public files, such as .bin/public", c.StaticRoot)
	}
	for i, h := range c.ServerName {
		if h != "_" && (!hostRE.MatchString(h) || len(h) > 253) {
			add(fmt.Sprintf("server_name[%d]", i), "%q is not a host name (lowercase labels of letters, digits and -, optionally *. first, or _)", h)
		}
	}
	if n := *c.NginxWorkers; n < 0 || n > 1024 {
		add("nginx_workers", "%d is not a number of workers (1-1024, or 0 for auto)", n)
	}
	if c.AppPort < 1 || c.AppPort > 65535 {
		add("app_port", "%d is not a TCP port (1-65535)", c.AppPort)
	}
	if c.AppPort == c.NginxPort {
		add("app_port", "must differ from nginx_port (%d)", c.NginxPort)
	}
	if !slices.Contains(service.Managers, c.ServiceManager) {
		add("service_manager", "%q is not one of %s", c.ServiceManager, strings.Join(service.Managers, ", "))
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
}

func (c *Config) workers() string {
	// 0 asks nginx for one worker per CPU. A pointer tells it from unset.
	if *c.NginxWorkers == 0 {
		return "auto"
	}
	return strconv.Itoa(*c.NginxWorkers)
}

// Secrets are the env file's values, strings and numbers alike, scrubbed
// from all output. Values the build shows anyway (the environment, the
// app's name, ports, host names) are left alone: redacting "production"
// everywhere would hide the log's meaning and protect nothing.
func (c *Config) Secrets() []string {
	out := c.Config.Secrets()
	if c.envJSON == nil {
		return out
	}
	dec := json.NewDecoder(strings.NewReader(string(c.envJSON)))
	dec.UseNumber() // 123456 stays "123456", not 123456.0
	var obj map[string]any
	if dec.Decode(&obj) != nil {
		return out
	}
	public := map[string]bool{"true": true, "false": true, "null": true,
		c.Environment: true, c.AppName: true, c.serviceName(): true, c.Entrypoint: true,
		strconv.Itoa(c.AppPort): true, strconv.Itoa(c.NginxPort): true, strconv.Itoa(c.PublicPort): true}
	for _, h := range c.ServerName {
		public[h] = true
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 4 && !public[v] {
				out = append(out, v)
			}
		case json.Number:
			if len(v) >= 4 && !public[v.String()] {
				out = append(out, v.String())
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
