package validate

import "testing"

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
