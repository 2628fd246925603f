package primal

import (
	"fmt"
	"sort"

	"github.com/nodebake/packer-plugin-node/internal/apt"
	"github.com/nodebake/packer-plugin-node/internal/nginx"
	"github.com/nodebake/packer-plugin-node/internal/plan"
	"github.com/nodebake/packer-plugin-node/internal/sysctl"
)

// SysctlFile is where node-primal persists its kernel settings.
const SysctlFile = "/etc/sysctl.d/60-node-primal.conf"

// Plan is what node-primal does to the machine, in order, for the given
// instance user (already validated). It needs no machine: golden tests and
// dry runs render it.
func (c *Config) Plan(user string) (plan.Plan, error) {
	if err := validUser(user); err != nil {
		return plan.Plan{}, fmt.Errorf("instance_user: %v", err)
	}
	var p plan.Plan
	lock := c.DpkgLockTimeout
	p.Add(
		apt.WaitForLock(lock),
		apt.Update(lock),
		apt.Install("install base packages", append(append([]string(nil), c.Packages...), c.ExtraPackages...), lock),
		apt.Install("install nginx", []string{"nginx"}, lock),
		nginx.EnableAtBoot(),
		nginx.OwnLogs(user),
		sysctl.Persist(SysctlFile, c.sysctlSettings()),
	)
	return p, nil
}

// sysctlSettings are the built-in kernel settings with the user's on top.
func (c *Config) sysctlSettings() map[string]string {
	s := map[string]string{"net.ipv4.tcp_slow_start_after_idle": boolValue(c.TCPSlowStartAfterIdle)}
	for k, v := range c.Sysctl {
		s[k] = v
	}
	return s
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
