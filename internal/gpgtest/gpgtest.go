// Package gpgtest makes throwaway OpenPGP signing keys with the host's gpg,
// for tests and test mirrors that sign a SHASUMS256.txt the way Node.js
// releasers do (clearsigned SHASUMS256.txt.asc, detached SHASUMS256.txt.sig).
// Each key lives in a GNUPGHOME of its own; Close stops the gpg-agent gpg
// started for it. Only tests and test tools import it.
package gpgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Key is a signing key and its GNUPGHOME.
type Key struct {
	Home        string // GNUPGHOME
	Fingerprint string // 40 upper-case hex digits
	PublicKey   string // path of the armored public key (gpg --export --armor)
	// fakedTime, when set, is the time gpg believes it is (an expired key's
	// signatures are made while it was valid).
	fakedTime string
}

// KeyID is the long key ID, as gpgv names keys.
func (k *Key) KeyID() string { return k.Fingerprint[len(k.Fingerprint)-16:] }

// Available says why gpg cannot make keys here, or "" if it can.
func Available() string {
	for _, c := range []string{"gpg", "gpgconf", "gpg-agent"} {
		if _, err := exec.LookPath(c); err != nil {
			return c + " is not installed (Debian: apt-get install gpg gpg-agent)"
		}
	}
	return ""
}

// New makes an ed25519 signing key for uid in dir/gnupg, and writes its
// armored public key to dir/KEYID.asc.
func New(dir, uid string) (*Key, error) { return newKey(dir, uid, "", "never") }

// NewExpiredT is NewT for a key made on 2020-01-01 that expired a year
// later, signing as of 2020-06-01: a retired releaser's key, whose
// signatures of old releases still verify.
func NewExpiredT(t testing.TB, uid string) *Key {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip("cannot make OpenPGP test keys: " + why)
	}
	k, err := newKey(t.TempDir(), uid, "20200101T000000", "1y")
	if err != nil {
		t.Fatal(err)
	}
	k.fakedTime = "20200601T000000"
	t.Cleanup(k.Close)
	return k
}

func newKey(dir, uid, fakedTime, expire string) (*Key, error) {
	if why := Available(); why != "" {
		return nil, fmt.Errorf("gpgtest: %s", why)
	}
	home := filepath.Join(dir, "gnupg")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	k := &Key{Home: home, fakedTime: fakedTime}
	if _, err := k.gpg(nil, "--quick-gen-key", uid, "ed25519", "sign", expire); err != nil {
		k.Close()
		return nil, err
	}
	out, err := k.gpg(nil, "--with-colons", "--list-keys", uid)
	if err != nil {
		k.Close()
		return nil, err
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" {
			k.Fingerprint = f[9]
			break
		}
	}
	if len(k.Fingerprint) != 40 {
		k.Close()
		return nil, fmt.Errorf("gpgtest: no fingerprint for %q in %q", uid, out)
	}
	pub, err := k.gpg(nil, "--armor", "--export", k.Fingerprint)
	if err != nil {
		k.Close()
		return nil, err
	}
	k.PublicKey = filepath.Join(dir, k.KeyID()+".asc")
	if err := os.WriteFile(k.PublicKey, pub, 0o644); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// NewT is New in a temporary directory of t, closed when t ends. It skips
// the test, saying why, where gpg is missing.
func NewT(t testing.TB, uid string) *Key {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip("cannot make OpenPGP test keys: " + why)
	}
	k, err := New(t.TempDir(), uid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// Clearsign is text clearsigned, as SHASUMS256.txt.asc.
func (k *Key) Clearsign(text []byte) ([]byte, error) {
	return k.gpg(text, "--local-user", k.Fingerprint, "--clearsign", "--output", "-")
}

// DetachSign is a binary detached signature of data, as SHASUMS256.txt.sig.
func (k *Key) DetachSign(data []byte) ([]byte, error) {
	return k.gpg(data, "--local-user", k.Fingerprint, "--detach-sign", "--output", "-")
}

// Close stops the gpg-agent of the key's GNUPGHOME.
func (k *Key) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = exec.CommandContext(ctx, "gpgconf", "--homedir", k.Home, "--kill", "gpg-agent").Run()
}

func (k *Key) gpg(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := []string{"--homedir", k.Home, "--batch", "--no-tty", "--quiet",
		"--pinentry-mode", "loopback", "--passphrase", ""}
	if k.fakedTime != "" {
		full = append(full, "--faked-system-time", k.fakedTime)
	}
	full = append(full, args...)
	c := exec.CommandContext(ctx, "gpg", full...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("gpg %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
