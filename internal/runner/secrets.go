package runner

import (
	"fmt"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// redact replaces every secret in s with a marker.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<sensitive>")
		}
	}
	return s
}

// secretUI scrubs secrets from everything shown to the user, including the
// remote output of steps: core only scrubs its own sensitive variables, and
// a secret a remote command echoes would otherwise reach the build log.
type secretUI struct {
	packersdk.Ui
	secrets []string
}

func (u secretUI) Say(s string)              { u.Ui.Say(redact(s, u.secrets)) }
func (u secretUI) Message(s string)          { u.Ui.Message(redact(s, u.secrets)) }
func (u secretUI) Error(s string)            { u.Ui.Error(redact(s, u.secrets)) }
func (u secretUI) Sayf(f string, a ...any)   { u.Say(fmt.Sprintf(f, a...)) }
func (u secretUI) Errorf(f string, a ...any) { u.Error(fmt.Sprintf(f, a...)) }
