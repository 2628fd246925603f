package validate

import (
	"strings"
	"testing"
)

func TestGrammars(t *testing.T) {
	for _, c := range []struct {
		f    func(string) error
		good []string
		bad  []string
	}{
		{User, []string{"admin", "_apt", "web-app_1"}, []string{"", "Admin", "1x", "a b", "a;b", "root$", "averyveryveryveryverylongusername1"}},
		{URL, []string{"https://nodejs.org/dist", "http://10.0.2.2:8080/"}, []string{"", "ftp://x", "proxy:3128", "http://x/'y", "http://x/ y", "https://"}},
		{AbsPath, []string{"/srv/app", "/home/admin/app/precache"}, []string{"app", "/", "/srv/../etc", "/srv//x", "/srv/x/", "/a b", "/a$b"}},
		{NoProxy, []string{"", "localhost,127.0.0.1,.example.test,10.0.0.0/8"}, []string{"a;b", "a b", "$(x)"}},
	} {
		for _, g := range c.good {
			if err := c.f(g); err != nil {
				t.Errorf("rejected %q: %v", g, err)
			}
		}
		for _, b := range c.bad {
			if err := c.f(b); err == nil {
				t.Errorf("accepted %q", b)
			}
		}
	}
}

// TestURLErrorsHideCredentials: a URL refused for another reason never
// shows the password it carries.
func TestURLErrorsHideCredentials(t *testing.T) {
	for _, bad := range []string{"ftp://bob:S3CRETpw@mirror.test/", "http://bob:S3CRETpw@proxy test:3128", "proxy:S3CRETpw@host:3128"} {
		err := URL(bad)
		if err == nil {
			t.Errorf("URL(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "S3CRETpw") {
			t.Errorf("URL(%q) error shows the password: %v", bad, err)
		}
	}
}
