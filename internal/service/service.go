// Package service runs the app at boot: a hardened systemd unit, or a
// sysvinit script for images without systemd (the original recipe's init.d
// service),
// and the health gate that must pass before the image is frozen.
package service

import (
	"bytes"
	"embed"
	"text/template"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed templates/*.tmpl scripts/*.sh
var files embed.FS

// Managers are the values service_manager accepts.
var Managers = []string{"auto", "systemd", "sysvinit"}

// Resolve turns manager into the one that will run the app: "auto" is
// systemd when systemd is PID 1 on the machine, sysvinit otherwise.
func Resolve(manager string, systemd bool) string {
	if manager != "auto" {
		return manager
	}
	if systemd {
		return "systemd"
	}
	return "sysvinit"
}

// UnitPath and InitScriptPath are where the service of name is defined.
func UnitPath(name string) string       { return "/etc/systemd/system/" + name + ".service" }
func InitScriptPath(name string) string { return "/etc/init.d/" + name }

// App is what the service runs. Every field is validated by the caller to a
// grammar that needs no quoting in a unit file or an init script.
type App struct {
	Name       string   // service name, e.g. ponyfoo-production
	User       string   // runs as this user
	Group      string   // and its primary group
	Dir        string   // working directory: the app's current release
	Node       string   // absolute path of node
	Entrypoint string   // script relative to Dir
	Env        []string // KEY=VALUE
}

func render(name string, a App) []byte {
	t := template.Must(template.ParseFS(files, "templates/"+name))
	var b bytes.Buffer
	if err := t.Execute(&b, a); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Install writes the unit (manager "systemd") or the init script
// ("sysvinit", see Resolve), removes the other kind an earlier build may
// have left, enables the service at boot and (re)starts it, so a rerun
// picks up the new release.
func Install(manager string, a App) plan.Step {
	f := plan.File{Path: UnitPath(a.Name), Mode: 0o644, Content: render("unit.service.tmpl", a)}
	if manager == "sysvinit" {
		f = plan.File{Path: InitScriptPath(a.Name), Mode: 0o755, Content: render("initd.sh.tmpl", a)}
	}
	return plan.Step{
		Name:  "install and start the " + a.Name + " service (" + manager + ")",
		Files: []plan.File{f},
		Script: shell.MustRender(files, "scripts/install.sh", struct {
			Manager, Name string
		}{manager, a.Name}),
	}
}

// CheckName fails when the service's name is taken by a unit or init
// script this plugin did not write (app_name = "systemd" with environment
// = "journald" would replace systemd-journald). It runs before any step
// touches the machine.
func CheckName(name string) plan.Step { return checkName(name, "") }

func checkName(name, root string) plan.Step {
	return plan.Step{
		Name:   "check that the service name " + name + " is free",
		Script: shell.MustRender(files, "scripts/check-name.sh", struct{ Name, Root string }{name, root}),
	}
}

// HealthGate requests url until it answers status or timeout passes; on
// failure it shows the service's last log lines and nginx's errors.
func HealthGate(name, url string, status int, timeout time.Duration) plan.Step {
	return plan.Step{
		Name: "health check " + url,
		Script: shell.MustRender(files, "scripts/health.sh", struct {
			Name, URL string
			Status    int
			Seconds   int
		}{name, url, status, int(timeout.Round(time.Second) / time.Second)}),
	}
}
