package nodemirror

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
	"github.com/nodebake/packer-plugin-node/internal/nodejs/releasekeys"
)

// gpgv verifies signature (and data, for a detached one) with the public
// key file pub, returning gpgv's status lines and the signed text.
func gpgv(t *testing.T, pub string, signature []byte, data []byte) (status string, text []byte, err error) {
	t.Helper()
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv is not installed")
	}
	b, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := releasekeys.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"--keyring", write("keyring.gpg", releasekeys.Keyring(keys)), "--status-fd", "1"}
	if data == nil {
		args = append(args, "--output", filepath.Join(dir, "text"), write("s.asc", signature))
	} else {
		args = append(args, write("s.sig", signature), write("data", data))
	}
	c := exec.Command("gpgv", args...)
	c.Env = append(os.Environ(), "GNUPGHOME="+dir)
	out, err := c.Output()
	text, _ = os.ReadFile(filepath.Join(dir, "text"))
	return string(out), text, err
}

// TestServeSigned: the mirror serves SHASUMS256.txt.asc and .sig that gpgv
// verifies with its key, over the text it serves as SHASUMS256.txt (the
// wrong sums too, with CorruptChecksum); BadSignature breaks the .asc,
// Unsigned serves none, SignedBy signs with another key.
func TestServeSigned(t *testing.T) {
	dir, _ := writeFakeMirror(t)
	m := Serve(t, dir, "127.0.0.1:0", CorruptChecksum("20.18.1"), BadSignature("22.9.0"))
	if m.Key == nil || !strings.HasSuffix(m.Key.PublicKey, ".asc") {
		t.Fatalf("the mirror has no key: %+v", m.Key)
	}
	for _, v := range []string{"22.12.0", "20.18.1"} {
		_, sums := get(t, m.URL+"/"+ShasumsPath(v))
		code, asc := get(t, m.URL+"/"+ShasumsPath(v)+".asc")
		status, text, err := gpgv(t, m.Key.PublicKey, asc, nil)
		if code != 200 || err != nil || !strings.Contains(status, "VALIDSIG "+m.Key.Fingerprint) || !bytes.Equal(text, sums) {
			t.Errorf("%s: SHASUMS256.txt.asc %d, gpgv %v\n%s\nsigned %q, served %q", v, code, err, status, text, sums)
		}
		code, sig := get(t, m.URL+"/"+ShasumsPath(v)+".sig")
		if status, _, err := gpgv(t, m.Key.PublicKey, sig, sums); code != 200 || err != nil || !strings.Contains(status, "VALIDSIG "+m.Key.Fingerprint) {
			t.Errorf("%s: SHASUMS256.txt.sig %d, gpgv %v\n%s", v, code, err, status)
		}
	}
	_, asc := get(t, m.URL+"/"+ShasumsPath("22.9.0")+".asc")
	if status, _, err := gpgv(t, m.Key.PublicKey, asc, nil); err == nil || !strings.Contains(status, "BADSIG "+m.Key.KeyID()) {
		t.Errorf("BadSignature: gpgv %v\n%s", err, status)
	}

	if code, _ := get(t, Serve(t, dir, "127.0.0.1:0", Unsigned()).URL+"/"+ShasumsPath("22.12.0")+".asc"); code != 404 {
		t.Errorf("Unsigned: SHASUMS256.txt.asc answers %d", code)
	}
	other := gpgtest.NewT(t, "Other <other@example.test>")
	o := Serve(t, dir, "127.0.0.1:0", SignedBy(other))
	_, asc = get(t, o.URL+"/"+ShasumsPath("22.12.0")+".asc")
	if status, _, err := gpgv(t, m.Key.PublicKey, asc, nil); o.Key != other || err == nil || !strings.Contains(status, "NO_PUBKEY "+other.KeyID()) {
		t.Errorf("SignedBy: gpgv with the first mirror's key %v\n%s", err, status)
	}
}
