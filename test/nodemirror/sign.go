package nodemirror

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
)

// Signatures: like nodejs.org, the mirror serves each release's
// SHASUMS256.txt signed, as vX.Y.Z/SHASUMS256.txt.asc (clearsigned) and
// vX.Y.Z/SHASUMS256.txt.sig (detached), made when the mirror starts with
// a key the test generates (m.Key; its armored public key, m.Key.PublicKey,
// goes to node_release_keys). The signed text is the SHASUMS256.txt the
// mirror serves: with CorruptChecksum, the wrong sum is signed, as a
// mirror that re-signs a stale list would.

// SignedBy signs with k instead of a key of the mirror's own: a mirror
// signed by a key the build does not trust, or two mirrors with one key.
func SignedBy(k *gpgtest.Key) Option {
	return func(m *Mirror) { m.Key = k }
}

// Unsigned serves no SHASUMS256.txt.asc nor .sig (404), as a mirror that
// does not publish signatures.
func Unsigned() Option {
	return func(m *Mirror) { m.unsigned = true }
}

// BadSignature serves version's SHASUMS256.txt.asc with its signed text
// altered after signing (a digit of the archive's SHA-256 changed), as a
// tampered mirror would: gpgv reports a BAD signature by the mirror's key.
func BadSignature(version string) Option {
	return func(m *Mirror) { m.faults["/"+ShasumsPath(version)+".asc"] = badSignature }
}

// NewSigned is the mirror of dir as an http.Handler whose SHASUMS256.txt
// files are signed by k, for tools outside go test (cmd/nodemirror).
func NewSigned(dir string, k *gpgtest.Key, opts ...Option) (*Mirror, error) {
	m, err := newMirror(dir, opts)
	if err != nil {
		return nil, err
	}
	if m.Key == nil {
		m.Key = k
	}
	return m, m.sign()
}

// sign makes the signatures of every release's SHASUMS256.txt with m.Key.
func (m *Mirror) sign() error {
	m.signatures = map[string][]byte{}
	if m.unsigned || m.Key == nil {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(m.Dir, "v*", "SHASUMS256.txt"))
	if err != nil {
		return err
	}
	for _, f := range files {
		p := "/" + filepath.ToSlash(strings.TrimPrefix(f, m.Dir+string(filepath.Separator)))
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if m.faults[p] == wrongChecksum {
			if text, err = wrongShasums(text); err != nil {
				return err
			}
		}
		asc, err := m.Key.Clearsign(text)
		if err != nil {
			return err
		}
		if m.faults[p+".asc"] == badSignature {
			if asc, err = tamper(asc, path.Base(path.Dir(p))); err != nil {
				return err
			}
		}
		sig, err := m.Key.DetachSign(text)
		if err != nil {
			return err
		}
		m.signatures[p+".asc"], m.signatures[p+".sig"] = asc, sig
	}
	return nil
}

// tamper changes the first digit of version's archive's SHA-256 in a
// clearsigned SHASUMS256.txt.asc, leaving its signature as it was.
func tamper(asc []byte, version string) ([]byte, error) {
	line := "  " + ArchiveName(version) + "\n"
	i := bytes.Index(asc, []byte(line))
	if i < 64 {
		return nil, fmt.Errorf("nodemirror: no SHA-256 of %s to tamper with", ArchiveName(version))
	}
	out := bytes.Clone(asc)
	d := &out[i-64]
	if *d == '0' {
		*d = '1'
	} else {
		*d = '0'
	}
	return out, nil
}

// wrongShasums is a SHASUMS256.txt with a wrong (well-formed) SHA-256 for
// every archive in b.
func wrongShasums(b []byte) ([]byte, error) {
	sums, err := ParseShasums(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	for file, sum := range sums {
		if strings.HasSuffix(file, ".tar.xz") || strings.HasSuffix(file, ".tar.gz") {
			sums[file] = wrongSum(sum)
		}
	}
	var out bytes.Buffer
	if err := WriteShasums(&out, sums); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
