package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/validate"
)

// LoginUser is the user the communicator logs in as, the default instance
// user: Packer hands it to provisioners as the build's "User"; when a
// builder does not, the machine is asked. Root is refused: nginx and the
// app must not run as root, so such builds must name instance_user.
func (r *Runner) LoginUser(ctx context.Context, generatedData map[string]interface{}) (string, error) {
	u, ok := generatedData["User"].(string)
	if !ok || u == "" || strings.HasPrefix(u, "<") {
		out, err := r.Output(ctx, "id -un")
		if err != nil {
			return "", fmt.Errorf("instance_user: cannot learn the communicator's user: %w", err)
		}
		u = strings.TrimSpace(out)
	}
	if err := validate.User(u); err != nil {
		return "", fmt.Errorf("instance_user: the communicator's user %v; set instance_user", err)
	}
	if u == "root" {
		return "", fmt.Errorf("instance_user: the communicator logs in as root, and nginx and the app must not run as root; set instance_user to an unprivileged user")
	}
	return u, nil
}
