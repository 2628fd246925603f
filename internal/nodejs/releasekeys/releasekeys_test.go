package releasekeys

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
)

// TestShippedKeys: every shipped file parses as one public key whose
// fingerprint, computed here, is the file's name (as upstream names them),
// with a user ID; and the active releasers of the README are among them.
func TestShippedKeys(t *testing.T) {
	keys := NodeJS()
	files, _ := filepath.Glob("keys/*.asc")
	if len(keys) != 29 || len(files) != 29 {
		t.Fatalf("%d keys from %d files; want the 29 of upstream's keys/", len(keys), len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(ks) != 1 || ks[0].Fingerprint+".asc" != filepath.Base(f) || ks[0].UserID == "" {
			t.Errorf("%s: parsed as %v", f, ks)
		}
	}
	readme, _ := os.ReadFile("README.md")
	active := strings.Fields(string(readme[bytes.Index(readme, []byte("```\n"))+4 : bytes.LastIndex(readme, []byte("```"))]))
	if len(active) != 9 {
		t.Fatalf("README lists %d active keys; want 9", len(active))
	}
	shipped := map[string]bool{}
	for _, k := range keys {
		shipped[k.Fingerprint] = true
	}
	for _, fpr := range active {
		if !shipped[fpr] {
			t.Errorf("active key %s is not shipped", fpr)
		}
	}
}

// TestDearmorMatchesGPG: the binary packets of each shipped key are exactly
// what `gpg --dearmor` makes of its file, so the keyring is what gpgv would
// read from keys dearmored by gpg.
func TestDearmorMatchesGPG(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg is not installed: cannot compare with gpg --dearmor")
	}
	files, _ := filepath.Glob("keys/*.asc")
	for _, f := range files {
		want, err := exec.Command("gpg", "--dearmor", "--output", "-", f).Output()
		if err != nil {
			t.Fatalf("gpg --dearmor %s: %v", f, err)
		}
		b, _ := os.ReadFile(f)
		ks, err := Parse(b)
		if err != nil || len(ks) != 1 || !bytes.Equal(ks[0].Packets, want) {
			t.Errorf("%s: dearmored differently from gpg (%v)", f, err)
		}
	}
}

// TestShippedKeyringVerifiesARealRelease: gpgv with the keyring the plugin
// uploads verifies Node.js v14.2.0's real SHASUMS256.txt.asc, signed by
// Michaël Zasso's key, and rejects it with one checksum changed.
func TestShippedKeyringVerifiesARealRelease(t *testing.T) {
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv is not installed (Debian: it is Priority: required)")
	}
	dir := t.TempDir()
	keyring := filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(keyring, Keyring(NodeJS()), 0o644); err != nil {
		t.Fatal(err)
	}
	asc, err := os.ReadFile("testdata/node-v14.2.0-SHASUMS256.txt.asc")
	if err != nil {
		t.Fatal(err)
	}
	gpgv := func(asc []byte) (string, error) {
		f := filepath.Join(dir, "SHASUMS256.txt.asc")
		if err := os.WriteFile(f, asc, 0o644); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("gpgv", "--keyring", keyring, "--status-fd", "1", f)
		c.Env = append(os.Environ(), "GNUPGHOME="+dir)
		out, err := c.Output()
		return string(out), err
	}
	out, err := gpgv(asc)
	if err != nil || !strings.Contains(out, "[GNUPG:] VALIDSIG 8FCCA13FEF1D0C2E91008E09770F7A9A5AE15600 2020-05-05") {
		t.Errorf("the shipped keyring does not verify v14.2.0's signature: %v\n%s", err, out)
	}
	tampered := bytes.Replace(asc, []byte("468cbd92271da8c0"), []byte("568cbd92271da8c0"), 1)
	if bytes.Equal(tampered, asc) {
		t.Fatal("the test data lacks linux-x64.tar.xz's checksum")
	}
	if out, err := gpgv(tampered); err == nil || !strings.Contains(out, "[GNUPG:] BADSIG 770F7A9A5AE15600") {
		t.Errorf("gpgv accepted a tampered SHASUMS256.txt.asc: %v\n%s", err, out)
	}
}

// TestParseKeysGPGMade: keys gpg exports, armored and binary, parse with
// the fingerprint gpg gives them; a secret key is refused.
func TestParseKeysGPGMade(t *testing.T) {
	k := gpgtest.NewT(t, "Parse Test <parse@example.test>")
	armored, err := os.ReadFile(k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := Parse(armored)
	if err != nil || len(ks) != 1 || ks[0].Fingerprint != k.Fingerprint || ks[0].UserID != "Parse Test <parse@example.test>" {
		t.Fatalf("Parse(armored) = %v, %v; want %s", ks, err, k.Fingerprint)
	}
	if ks, err := Parse(ks[0].Packets); err != nil || len(ks) != 1 || ks[0].Fingerprint != k.Fingerprint {
		t.Errorf("Parse(binary) = %v, %v", ks, err)
	}
	// Two keys in one file, the shipped ones' and this one.
	two := append(append([]byte{}, armored...), []byte("\n")...)
	shipped, _ := os.ReadFile("keys/8FCCA13FEF1D0C2E91008E09770F7A9A5AE15600.asc")
	two = append(two, shipped...)
	if ks, err := Parse(two); err != nil || len(ks) != 2 || ks[1].Fingerprint != "8FCCA13FEF1D0C2E91008E09770F7A9A5AE15600" {
		t.Errorf("Parse(two keys) = %v, %v", ks, err)
	}
	secret, err := exec.Command("gpg", "--homedir", k.Home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--armor", "--export-secret-keys", k.Fingerprint).Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(secret); err == nil || !strings.Contains(err.Error(), "is a private key") {
		t.Errorf("Parse(secret key) = %v; want a refusal", err)
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := os.ReadFile("keys/8FCCA13FEF1D0C2E91008E09770F7A9A5AE15600.asc")
	ks, _ := Parse(good)
	bin := ks[0].Packets
	// One character of the base64 body changed: the CRC-24 no longer matches.
	lines := strings.Split(string(good), "\n")
	for i, l := range lines {
		if i > 3 && len(l) == 64 {
			c := byte('A')
			if l[10] == 'A' {
				c = 'B'
			}
			lines[i] = l[:10] + string(c) + l[11:]
			break
		}
	}
	damaged := strings.Join(lines, "\n")
	secretPacket := append([]byte{0xC5, byte(len(bin[2:10]))}, bin[2:10]...)
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "holds no OpenPGP public key"},
		{"text", []byte("hello\n"), "not OpenPGP data"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "not OpenPGP data"},
		{"signed message", []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nx\n"), `holds "BEGIN PGP SIGNED MESSAGE"`},
		{"no end line", []byte(strings.Split(string(good), "=")[0]), "no -----END PGP PUBLIC KEY BLOCK----- line"},
		{"damaged", []byte(damaged), "fails its CRC-24 checksum"},
		{"bad base64", []byte(armorBegin + "\n\n!!!!\n" + armorEnd + "\n"), "not valid base64"},
		{"truncated", bin[:len(bin)-5], "truncated"},
		{"secret key packet", secretPacket, "is a secret key"},
		{"user ID first", append([]byte{0xCD, 3, 'a', 'b', 'c'}, bin...), "does not start with a public key packet"},
		{"v3 key", []byte{0xC6, 3, 3, 0, 0}, "only v4 keys"},
		{"armored garbage", []byte(armorBegin + "\n\n" + base64.StdEncoding.EncodeToString([]byte("not a key")) + "\n" + armorEnd + "\n"), "not OpenPGP data"},
	}
	for _, c := range cases {
		if _, err := Parse(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse = %v; want an error with %q", c.name, err, c.want)
		}
	}
}

func TestMergeAndKeyring(t *testing.T) {
	a := Key{Fingerprint: strings.Repeat("A", 40), Packets: []byte("a")}
	b := Key{Fingerprint: strings.Repeat("B", 40), Packets: []byte("b")}
	b2 := Key{Fingerprint: strings.Repeat("B", 40), Packets: []byte("B")}
	c := Key{Fingerprint: strings.Repeat("C", 40), Packets: []byte("c")}
	got := Merge([]Key{a, b}, []Key{b2, c, c})
	if string(Keyring(got)) != "aBc" {
		t.Errorf("Merge = %q; want base's a, then extra's b (replacing base's) and c once", Keyring(got))
	}
	if a.KeyID() != strings.Repeat("A", 16) {
		t.Errorf("KeyID = %q", a.KeyID())
	}
}
