package primal

import (
	"strings"
	"testing"
	"time"
)

func TestPrepareDefaults(t *testing.T) {
	var p Provisioner
	if err := p.Prepare(map[string]interface{}{}); err != nil {
		t.Fatalf("Prepare with no settings: %v", err)
	}
	c := p.config
	if strings.Join(c.Packages, " ") != "git make g++ graphicsmagick curl" {
		t.Errorf("default packages = %v; want the seed's", c.Packages)
	}
	if c.DpkgLockTimeout != 10*time.Minute {
		t.Errorf("default dpkg_lock_timeout = %s; want 10m", c.DpkgLockTimeout)
	}
	if c.InstanceUser != "" {
		t.Errorf("instance_user = %q; want empty (resolved from the communicator at provision time)", c.InstanceUser)
	}
}

func TestPrepareValidation(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]interface{}
		// every substring must appear in the error; nil means no error
		want []string
	}{
		{"valid everything", map[string]interface{}{
			"instance_user":             "admin",
			"packages":                  []string{"git", "curl=7.88.1-10+deb12u8", "nginx/bookworm-backports"},
			"extra_packages":            []string{"htop"},
			"tcp_slow_start_after_idle": true,
			"sysctl":                    map[string]string{"net.core.somaxconn": "1024"},
			"dpkg_lock_timeout":         "90s",
		}, nil},
		{"user with shell characters", map[string]interface{}{"instance_user": "admin; rm -rf /"},
			[]string{"instance_user:", "is not a user name"}},
		{"root user", map[string]interface{}{"instance_user": "root"},
			[]string{"instance_user: must not be root"}},
		{"uppercase user", map[string]interface{}{"instance_user": "Admin"},
			[]string{"instance_user:"}},
		{"package injection", map[string]interface{}{"packages": []string{"git", "curl$(id)"}},
			[]string{"packages[1]:", `"curl$(id)" is not a Debian package name`}},
		{"package with space", map[string]interface{}{"extra_packages": []string{"a b"}},
			[]string{"extra_packages[0]:"}},
		{"option as package", map[string]interface{}{"extra_packages": []string{"--allow-unauthenticated"}},
			[]string{"extra_packages[0]:"}},
		{"bad sysctl key", map[string]interface{}{"sysctl": map[string]string{"net/ipv4": "1"}},
			[]string{"sysctl:", `"net/ipv4" is not a sysctl key`}},
		{"sysctl value with newline", map[string]interface{}{"sysctl": map[string]string{"net.core.somaxconn": "1\nkernel.panic = 1"}},
			[]string{`sysctl["net.core.somaxconn"]:`, "is not a sysctl value"}},
		{"negative timeout", map[string]interface{}{"dpkg_lock_timeout": "-1s"},
			[]string{"dpkg_lock_timeout: must not be negative"}},
		{"every error at once", map[string]interface{}{
			"instance_user":     "x y",
			"packages":          []string{"BAD"},
			"dpkg_lock_timeout": "-5m",
		}, []string{"instance_user:", "packages[0]:", "dpkg_lock_timeout:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			err := p.Prepare(tc.raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPrepareRejectsUnknownField(t *testing.T) {
	var p Provisioner
	err := p.Prepare(map[string]interface{}{"instance_usr": "admin"})
	if err == nil || !strings.Contains(err.Error(), "instance_usr") {
		t.Fatalf("want an error naming the unknown key instance_usr, got %v", err)
	}
}
