package shell

import (
	"os/exec"
	"strings"
	"testing"
)

// TestQuoteRoundTrip feeds hostile strings through a real /bin/sh and checks
// that the shell hands back exactly the original bytes.
func TestQuoteRoundTrip(t *testing.T) {
	cases := []string{
		"",
		"plain",
		"two words",
		"it's",
		"'",
		"''",
		`"double"`,
		"$(touch /tmp/pwned)",
		"`id`",
		"a;b|c&d",
		"back\\slash",
		"new\nline",
		"tab\tsep",
		"*?[glob]",
		"~root",
		"${HOME}",
		"-n",
		"ünïcödé",
		"=x",
		"trailing\\",
	}
	for _, c := range cases {
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(c)).Output()
		if err != nil {
			t.Fatalf("sh failed for %q: %v", c, err)
		}
		if string(out) != c {
			t.Errorf("Quote(%q) = %s; shell read back %q", c, Quote(c), out)
		}
	}
}

func TestQuoteLeavesSafeWordsBare(t *testing.T) {
	for _, s := range []string{"nginx", "/var/log/nginx", "net.ipv4.tcp_slow_start_after_idle", "g++", "admin@host"} {
		if got := Quote(s); got != s {
			t.Errorf("Quote(%q) = %q; want it bare", s, got)
		}
	}
	for _, s := range []string{"a b", "x'y", "$x", "~", "a*"} {
		if got := Quote(s); !strings.HasPrefix(got, "'") {
			t.Errorf("Quote(%q) = %q; want it quoted", s, got)
		}
	}
}

func TestQuoteAll(t *testing.T) {
	got := QuoteAll([]string{"git", "it's", ""})
	want := `git 'it'\''s' ''`
	if got != want {
		t.Errorf("QuoteAll = %s; want %s", got, want)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("it's $(x)")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			t.Skip("a NUL byte cannot be passed in a shell argument at all")
		}
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh failed for %q: %v", s, err)
		}
		if string(out) != s {
			t.Fatalf("round trip of %q gave %q", s, out)
		}
	})
}
