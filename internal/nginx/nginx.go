// Package nginx holds the steps that install nginx and prepare it to run as
// the instance user (nginx workers run as that user and write its logs).
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

// OwnLogs makes the log directory, and the logs already in it, belong to
// user (validated by the caller), keeping the adm group so that log readers
// keep access, so nginx running as the instance user can reopen its logs.
func OwnLogs(user string) plan.Step {
	return plan.Step{
		Name: "nginx log dir owned by " + user,
		Script: shell.MustRender(scripts, "scripts/own-logs.sh", struct{ User, Dir string }{
			user, LogDir,
		}),
	}
}
