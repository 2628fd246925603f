// Package releasekeys holds the OpenPGP public keys of the Node.js
// releasers, which sign every release's SHASUMS256.txt, and reads such keys:
// armored (as `gpg --export --armor` writes them) or binary. It parses no
// more of OpenPGP than it takes to check that a file holds public keys, to
// name them by fingerprint and first user ID, and to build the binary
// keyring gpgv reads on the target; the signatures themselves are verified
// there by gpgv, so the plugin carries no OpenPGP implementation.
//
// keys/ is a copy of the Node.js project's release-keys repository
// (README.md beside this file says which commit and which keys are active).
package releasekeys

import (
	"bytes"
	"crypto/sha1"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed keys/*.asc
var keyFiles embed.FS

// Key is one transferable public key: a primary key with its user IDs,
// subkeys and signatures.
type Key struct {
	Fingerprint string // the primary key's v4 fingerprint, 40 upper-case hex digits
	UserID      string // its first user ID ("" if it has none)
	Packets     []byte // the key's OpenPGP packets, binary (dearmored)
}

// KeyID is the key's long key ID, the last 16 hex digits of its
// fingerprint, as gpgv names keys.
func (k Key) KeyID() string { return k.Fingerprint[len(k.Fingerprint)-16:] }

// String is "FINGERPRINT user ID".
func (k Key) String() string {
	if k.UserID == "" {
		return k.Fingerprint
	}
	return k.Fingerprint + " " + k.UserID
}

// NodeJS returns the Node.js release keys the plugin ships, active and
// retired (older releases were signed by keys now retired), sorted by
// fingerprint.
func NodeJS() []Key {
	var keys []Key
	err := fs.WalkDir(keyFiles, "keys", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := keyFiles.ReadFile(p)
		if err != nil {
			return err
		}
		ks, err := Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, ks...)
		return nil
	})
	if err != nil {
		panic("releasekeys: a shipped key does not parse: " + err.Error())
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Fingerprint < keys[j].Fingerprint })
	return keys
}

// Merge is base with extra added; a key of extra replaces the key of base
// with the same fingerprint (a newer export of it, with new subkeys).
func Merge(base, extra []Key) []Key {
	out := make([]Key, 0, len(base)+len(extra))
	seen := map[string]bool{}
	for _, k := range extra {
		seen[k.Fingerprint] = true
	}
	for _, k := range base {
		if !seen[k.Fingerprint] {
			out = append(out, k)
		}
	}
	for _, k := range extra {
		if seen[k.Fingerprint] {
			out = append(out, k)
			delete(seen, k.Fingerprint) // the first of duplicates in extra
		}
	}
	return out
}

// Keyring is keys as one binary keyring, the concatenation of their
// packets, as `gpgv --keyring FILE` reads it.
func Keyring(keys []Key) []byte {
	var b bytes.Buffer
	for _, k := range keys {
		b.Write(k.Packets)
	}
	return b.Bytes()
}

// Describe says what Keyring(keys) holds, a key a line, for plan renders.
func Describe(keys []Key) string {
	var b strings.Builder
	plural := "s"
	if len(keys) == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "binary OpenPGP keyring of %d key%s, %d bytes:", len(keys), plural, len(Keyring(keys)))
	for _, k := range keys {
		b.WriteString("\n  " + k.String())
	}
	return b.String()
}

// Parse reads the OpenPGP public keys in b: one or more armored PUBLIC KEY
// BLOCKs, or binary packets. It fails on anything else, on a secret key,
// and on keys other than version 4, the ones gpgv on Debian 12 verifies
// with.
func Parse(b []byte) ([]Key, error) {
	var keys []Key
	if bytes.Contains(b, []byte("-----BEGIN PGP ")) {
		blocks, err := dearmor(b)
		if err != nil {
			return nil, err
		}
		for _, bin := range blocks {
			ks, err := parseBinary(bin)
			if err != nil {
				return nil, err
			}
			keys = append(keys, ks...)
		}
	} else {
		var err error
		if keys, err = parseBinary(b); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("holds no OpenPGP public key")
	}
	return keys, nil
}

const (
	armorBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	armorEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
)

// dearmor decodes every armored public key block in b (RFC 9580 §6.2),
// checking the CRC-24 where there is one.
func dearmor(b []byte) ([][]byte, error) {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	var blocks [][]byte
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "-----BEGIN PGP ") {
			continue
		}
		if line != armorBegin {
			if strings.Contains(line, "PRIVATE KEY") || strings.Contains(line, "SECRET KEY") {
				return nil, fmt.Errorf("is a private key: give the public key (gpg --export --armor KEYID)")
			}
			return nil, fmt.Errorf("holds %q, not an OpenPGP public key block", strings.Trim(line, "-"))
		}
		i++
		// Armor headers ("Comment: ..."), up to a blank line.
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			if !strings.Contains(lines[i], ":") {
				break // no blank line after headers: lenient, as gpg is
			}
		}
		var body strings.Builder
		crc := ""
		ended := false
		for ; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			switch {
			case l == "":
			case l == armorEnd:
				ended = true
			case strings.HasPrefix(l, "=") && len(l) == 5:
				crc = l[1:]
			default:
				body.WriteString(l)
			}
			if ended {
				break
			}
		}
		if !ended {
			return nil, fmt.Errorf("the armored key block has no %s line", armorEnd)
		}
		bin, err := base64.StdEncoding.DecodeString(body.String())
		if err != nil {
			return nil, fmt.Errorf("the armored key block is not valid base64: %v", err)
		}
		if crc != "" {
			want, err := base64.StdEncoding.DecodeString(crc)
			if err != nil || len(want) != 3 {
				return nil, fmt.Errorf("the armored key block's checksum line =%s is not valid", crc)
			}
			got := crc24(bin)
			if got != uint32(want[0])<<16|uint32(want[1])<<8|uint32(want[2]) {
				return nil, fmt.Errorf("the armored key block fails its CRC-24 checksum: the file is damaged")
			}
		}
		blocks = append(blocks, bin)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("holds no %s", armorBegin)
	}
	return blocks, nil
}

// crc24 is the armor checksum of RFC 9580 §6.1.
func crc24(b []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864CFB
			}
		}
	}
	return crc & 0xFFFFFF
}

// OpenPGP packet tags (RFC 9580 §5).
const (
	tagSecretKey    = 5
	tagPublicKey    = 6
	tagSecretSubkey = 7
	tagUserID       = 13
	tagPublicSubkey = 14
)

// parseBinary splits binary packets into keys, each starting with a public
// key packet.
func parseBinary(b []byte) ([]Key, error) {
	var keys []Key
	for off := 0; off < len(b); {
		tag, hdr, n, err := packetHeader(b[off:])
		if err != nil {
			return nil, fmt.Errorf("not OpenPGP data at byte %d: %v", off, err)
		}
		body := b[off+hdr : off+hdr+n]
		raw := b[off : off+hdr+n]
		off += hdr + n
		switch tag {
		case tagSecretKey, tagSecretSubkey:
			return nil, fmt.Errorf("is a secret key: give the public key (gpg --export --armor KEYID)")
		case tagPublicKey:
			fpr, err := fingerprint(body)
			if err != nil {
				return nil, err
			}
			keys = append(keys, Key{Fingerprint: fpr})
		default:
			if len(keys) == 0 {
				return nil, fmt.Errorf("does not start with a public key packet (it starts with an OpenPGP packet of tag %d)", tag)
			}
			if tag == tagUserID && keys[len(keys)-1].UserID == "" {
				keys[len(keys)-1].UserID = strings.ToValidUTF8(string(body), "?")
			}
		}
		k := &keys[len(keys)-1]
		k.Packets = append(k.Packets, raw...)
	}
	return keys, nil
}

// packetHeader reads a packet header: the tag, the header's length and the
// body's.
func packetHeader(b []byte) (tag, hdr, n int, err error) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, 0, 0, fmt.Errorf("no packet header")
	}
	if b[0]&0x40 != 0 { // new format
		tag = int(b[0] & 0x3f)
		switch o := int(b[1]); {
		case o < 192:
			hdr, n = 2, o
		case o < 224:
			if len(b) < 3 {
				return 0, 0, 0, fmt.Errorf("truncated packet header")
			}
			hdr, n = 3, (o-192)<<8+int(b[2])+192
		case o == 255:
			if len(b) < 6 {
				return 0, 0, 0, fmt.Errorf("truncated packet header")
			}
			hdr, n = 6, int(b[2])<<24|int(b[3])<<16|int(b[4])<<8|int(b[5])
		default:
			return 0, 0, 0, fmt.Errorf("a partial-length packet, which keys never have")
		}
	} else { // old format
		tag = int(b[0]>>2) & 0x0f
		switch b[0] & 3 {
		case 0:
			hdr, n = 2, int(b[1])
		case 1:
			if len(b) < 3 {
				return 0, 0, 0, fmt.Errorf("truncated packet header")
			}
			hdr, n = 3, int(b[1])<<8|int(b[2])
		case 2:
			if len(b) < 5 {
				return 0, 0, 0, fmt.Errorf("truncated packet header")
			}
			hdr, n = 5, int(b[1])<<24|int(b[2])<<16|int(b[3])<<8|int(b[4])
		default:
			return 0, 0, 0, fmt.Errorf("a packet of indeterminate length, which keys never have")
		}
	}
	if n < 0 || hdr+n > len(b) {
		return 0, 0, 0, fmt.Errorf("a packet of %d bytes where %d remain: truncated", n, len(b)-hdr)
	}
	return tag, hdr, n, nil
}

// fingerprint is a v4 public key packet's fingerprint (RFC 9580 §5.5.4.2):
// SHA-1 of 0x99, the body's two-byte length, and the body.
func fingerprint(body []byte) (string, error) {
	if len(body) == 0 {
		return "", fmt.Errorf("an empty public key packet")
	}
	if body[0] != 4 {
		return "", fmt.Errorf("an OpenPGP v%d key: only v4 keys are supported (what gpgv on Debian 12 verifies with)", body[0])
	}
	h := sha1.New()
	h.Write([]byte{0x99, byte(len(body) >> 8), byte(len(body))})
	h.Write(body)
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}
