package account

import (
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/golden"
)

// TestEnsureGolden renders the step; regenerate with
// go test ./internal/account -update.
func TestEnsureGolden(t *testing.T) {
	golden.Steps(t, "ensure", Ensure("node", "/home/node"))
}

// TestEnsureMakesNoLoginAccount checks the account the step makes cannot
// log in, and that the user's name reaches the script only quoted.
func TestEnsureMakesNoLoginAccount(t *testing.T) {
	s := Ensure("node", "/home/node").Script
	for _, want := range []string{"--system", "shell=/usr/sbin/nologin\n", `--shell "$shell"`, "[ -x \"$shell\" ] || shell=/bin/false", "chmod 0711 \"$home\"", "u=node\n", "home=/home/node\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	for _, never := range []string{"usermod", "--groups", " -G ", "sudoers", "passwd "} {
		if strings.Contains(s, never) {
			t.Errorf("the script has %q: the account gets no extra group, no sudo, no password:\n%s", never, s)
		}
	}
}
