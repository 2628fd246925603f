// Package nginx holds the steps that install, enable and configure nginx,
// and keep its logs out of the app user's reach.
package nginx

import (
	"embed"

	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/shell"
)

//go:embed scripts/*.sh
var scripts embed.FS

// LogDir is where Debian's nginx writes its logs.
const LogDir = "/var/log/nginx"

// EnableAtBoot enables nginx at boot and starts it now, with systemd when it
// is PID 1 and with the sysvinit links (update-rc.d) otherwise.
func EnableAtBoot() plan.Step {
	return plan.Step{
		Name:   "enable nginx at boot",
		Script: shell.MustRender(scripts, "scripts/enable.sh", nil),
	}
}

// ProtectLogs keeps the log directory and its logs root's, readable by
// group adm (the Debian way to give log readers access), and undoes an
// earlier build's chown to the app user: an app user owning the directory
// could gain root through nginx's log reopening (CVE-2016-1247).
func ProtectLogs() plan.Step { return protectLogs(LogDir) }

func protectLogs(dir string) plan.Step {
	return plan.Step{
		Name:   "nginx logs owned by root:adm, not the app's user",
		Script: shell.MustRender(scripts, "scripts/protect-logs.sh", struct{ Dir string }{dir}),
	}
}
