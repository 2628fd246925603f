package precache

import "testing"

func TestNpmrc(t *testing.T) {
	cases := map[string]string{
		"https://npm.example.test":        "registry=https://npm.example.test\n//npm.example.test/:_authToken=T\n",
		"https://npm.example.test/org/x/": "registry=https://npm.example.test/org/x/\n//npm.example.test/org/x/:_authToken=T\n",
		"http://127.0.0.1:4873/":          "registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=T\n",
	}
	for reg, want := range cases {
		if got := Npmrc(reg, "T"); got != want {
			t.Errorf("Npmrc(%q) = %q; want %q", reg, got, want)
		}
	}
}

func TestValidTokenAndRegistry(t *testing.T) {
	for _, ok := range []string{"npm_AbC123", "abc.def-ghi_jkl~+/=", "c2VjcmV0OnBhc3M="} {
		if err := ValidToken(ok); err != nil {
			t.Errorf("ValidToken(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a\nb", "a#b", "a;b"} {
		if err := ValidToken(bad); err == nil {
			t.Errorf("ValidToken(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"registry", "ftp://x/", "https://u:p@x/", "https://x/?a=b", "https://x/ y"} {
		if err := ValidRegistry(bad); err == nil {
			t.Errorf("ValidRegistry(%q) accepted", bad)
		}
	}
}
