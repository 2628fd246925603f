//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/test/sandbox"
)

// registrySigner makes a registry stand-in (tokenRegistry) one that
// supports `npm audit signatures`, the way the public npm registry does:
// every version in the packuments it serves gets dist.signatures, an
// ECDSA P-256 signature (SHA-256, base64 DER) of
// "<name>@<version>:<dist.integrity>" under a key made for the test, and
// GET /-/npm/v1/keys publishes that key in npm's format. Tamper names one
// package whose signature is made over another integrity: a signature a
// registry (or a mirror) could serve for a tampered tarball.
type registrySigner struct {
	key    *ecdsa.PrivateKey
	keyID  string // "SHA256:" + base64 of the SHA-256 of the key's SPKI DER
	spki   []byte
	Tamper string
	// Versions signed and keys documents served, for the test to check
	// that npm went through the stand-in.
	signed, keyRequests atomic.Int64
}

func newRegistrySigner(t *testing.T) *registrySigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	return &registrySigner{key: k, spki: spki, keyID: "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])}
}

// serveKeys answers GET /-/npm/v1/keys as npm's registry does.
func (s *registrySigner) serveKeys(w http.ResponseWriter) {
	s.keyRequests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{
		"expires": nil, "keyid": s.keyID,
		"keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256",
		"key": base64.StdEncoding.EncodeToString(s.spki),
	}}})
}

// signPackument adds dist.signatures to every version of a packument (full
// or abbreviated) and drops dist.attestations (their bundles name the
// upstream, whose Sigstore roots this test does not stand in for). Other
// JSON is returned as it is.
func (s *registrySigner) signPackument(b []byte) ([]byte, error) {
	var doc map[string]any
	if json.Unmarshal(b, &doc) != nil {
		return b, nil
	}
	name, _ := doc["name"].(string)
	versions, _ := doc["versions"].(map[string]any)
	if name == "" || versions == nil {
		return b, nil
	}
	for v, m := range versions {
		dist, _ := m.(map[string]any)["dist"].(map[string]any)
		integrity, _ := dist["integrity"].(string)
		if integrity == "" {
			continue
		}
		if name == s.Tamper {
			integrity = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
		}
		sum := sha256.Sum256([]byte(name + "@" + v + ":" + integrity))
		sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
		if err != nil {
			return nil, err
		}
		dist["signatures"] = []map[string]string{{"keyid": s.keyID, "sig": base64.StdEncoding.EncodeToString(sig)}}
		delete(dist, "attestations")
		s.signed.Add(1)
	}
	return json.Marshal(doc)
}

// startSigningRegistry is a signing registry stand-in on the target's
// link, forwarding to the host's registry.
func startSigningRegistry(t *testing.T, hostIP, tamper string) *tokenRegistry {
	t.Helper()
	r := startRegistryStandIn(t, hostIP+":0")
	r.signing = newRegistrySigner(t)
	r.signing.Tamper = tamper
	return r
}

// tufStandIn stands in for Sigstore's public TUF repository, which npm
// (9.5 and later) refreshes before it looks up a registry's keys, and which
// a sandbox target cannot reach (its proxy allows only the package
// registries). It is a TUF repository of its own: root, timestamp,
// snapshot and targets signed with one ed25519 key made for the test, no
// targets (so npm falls back to the registry's /-/npm/v1/keys, as for any
// registry but the public one), served over TLS under the repository's
// host name with a certificate from a CA made for the test. trustTUFStandIn
// makes one target resolve that name to it, trust its CA, and start from its
// root.json, as npm would start from the root it ships.
type tufStandIn struct {
	Host     string // the repository's host name, as npm on the target has it
	root     []byte
	files    map[string][]byte
	requests atomic.Int64
}

// canonical is TUF's canonical JSON of v: Go sorts map keys and writes
// compact JSON, which is canonical for the plain ASCII strings and
// integers used here.
func canonical(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(b), "\\<>&") {
		t.Fatalf("not canonical as written: %s", b)
	}
	return b
}

func newTUFStandIn(t *testing.T, host string) *tufStandIn {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]any{"keytype": "ed25519", "scheme": "ed25519", "keyval": map[string]any{"public": hex.EncodeToString(pub)}}
	sum := sha256.Sum256(canonical(t, key))
	keyID := hex.EncodeToString(sum[:])
	expires := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02T15:04:05Z")
	sign := func(signed map[string]any) []byte {
		signed["spec_version"], signed["version"], signed["expires"] = "1.0.31", 1, expires
		sig := ed25519.Sign(priv, canonical(t, signed))
		return canonical(t, map[string]any{"signed": signed, "signatures": []map[string]any{{"keyid": keyID, "sig": hex.EncodeToString(sig)}}})
	}
	role := map[string]any{"keyids": []string{keyID}, "threshold": 1}
	s := &tufStandIn{Host: host, files: map[string][]byte{}}
	s.root = sign(map[string]any{"_type": "root", "consistent_snapshot": false,
		"keys":  map[string]any{keyID: key},
		"roles": map[string]any{"root": role, "timestamp": role, "snapshot": role, "targets": role}})
	s.files["/targets.json"] = sign(map[string]any{"_type": "targets", "targets": map[string]any{}})
	s.files["/snapshot.json"] = sign(map[string]any{"_type": "snapshot", "meta": map[string]any{"targets.json": map[string]any{"version": 1}}})
	s.files["/timestamp.json"] = sign(map[string]any{"_type": "timestamp", "meta": map[string]any{"snapshot.json": map[string]any{"version": 1}}})
	return s
}

func (s *tufStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	b, ok := s.files[r.URL.Path]
	if !ok { // 2.root.json too: root.json is the newest root
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// testCA is a certificate authority made for one test, and a certificate
// from it for host.
func testCA(t *testing.T, host string) (caPEM []byte, leaf tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "packer-plugin-node test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var tufOnce sync.Map // target name -> *tufStandIn

// trustTUFStandIn serves a tufStandIn on the target's link, port 443, and
// points the target's npm at it for user: the repository's host name (read
// from the npm on the target) resolves to it in /etc/hosts, the test's CA
// joins the system store (which the build gives Node.js through
// NODE_EXTRA_CA_CERTS), and user's npm cache starts from its root.json.
// The build must list the host in no_proxy. Once per target.
func trustTUFStandIn(t *testing.T, tgt *sandbox.Target, user string) *tufStandIn {
	t.Helper()
	if s, ok := tufOnce.Load(tgt.Name); ok {
		return s.(*tufStandIn)
	}
	mirror := strings.TrimSpace(tgt.MustRun(t, `npm_root=$(dirname "$(dirname "$(readlink -f /usr/local/bin/npm)")")
/usr/local/bin/node -p "require('$npm_root/node_modules/@sigstore/tuf').DEFAULT_MIRROR_URL"`))
	u, err := url.Parse(mirror)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		t.Fatalf("npm's TUF mirror on the target is %q: not an https URL of a host", mirror)
	}
	s := newTUFStandIn(t, u.Hostname())
	caPEM, leaf := testCA(t, s.Host)
	ln, err := tls.Listen("tcp", net.JoinHostPort(tgt.HostIP, "443"), &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	if err := os.WriteFile(filepath.Join(tgt.RootFS, "usr/local/share/ca-certificates/packer-plugin-node-test-tuf.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := fmt.Sprintf("$(getent passwd %s | cut -d: -f6)/.npm/_tuf/%s", user, url.PathEscape(s.Host))
	if err := os.WriteFile(filepath.Join(tgt.RootFS, "var/tmp/tuf-root.json"), s.root, 0o644); err != nil {
		t.Fatal(err)
	}
	tgt.MustRun(t, fmt.Sprintf(`set -e
update-ca-certificates >/dev/null
echo %s >>/etc/hosts
d=%s
runuser -u %s -- mkdir -p "$d/targets"
install -o %s -m 0644 /var/tmp/tuf-root.json "$d/root.json"
rm -f /var/tmp/tuf-root.json`, "'"+tgt.HostIP+" "+s.Host+"'", cache, user, user))
	tufOnce.Store(tgt.Name, s)
	return s
}

// checkNoKeysNotice checks a build's output for npm_audit_signatures'
// one-line notice about a registry without signing keys (the host's).
func checkNoKeysNotice(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "registry signatures: not checked: the registry ") ||
		!strings.Contains(out, " publishes no signing keys (GET ") || !strings.Contains(out, "/-/npm/v1/keys answered 404)") {
		t.Error("the build output lacks the notice that the registry publishes no signing keys")
	}
	if strings.Contains(out, "npm audit signatures:") {
		t.Error("npm audit signatures ran against a registry without keys")
	}
}

// checkAuditSignatures runs node-carnivore on a precache miss (app) twice
// against signing registry stand-ins on the target's link, with npm's TUF
// repository stood in for: one signature tampered, the build fails naming
// the package and the registry and the live release stays; all valid, the
// build says how many packages have verified signatures.
func checkAuditSignatures(t *testing.T, ph *phases, tgt *sandbox.Target, app string) {
	t.Helper()
	tamper := "body-parser"
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
			Dev     bool   `json:"dev"`
		} `json:"packages"`
	}
	b, _ := os.ReadFile(filepath.Join(app, "package-lock.json"))
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	prod := 0
	for k, p := range lock.Packages {
		if strings.HasPrefix(k, "node_modules/") && !p.Dev {
			prod++
		}
	}
	tamperVersion := lock.Packages["node_modules/"+tamper].Version
	if tamperVersion == "" {
		t.Fatalf("%s is not in the app's lockfile", tamper)
	}

	tuf := trustTUFStandIn(t, tgt, "node")
	noProxy := tgt.HostIP + "," + tuf.Host
	ph.run("carnivore packer build (miss, signing registry, one signature tampered)", func() {
		reg := startSigningRegistry(t, tgt.HostIP, tamper)
		live := tgt.MustRun(t, "readlink /home/node/app/server; ls /home/node/app/releases")
		out, err := runPacker(t, carnivoreArgs(tgt, "-var", "source_dir="+app, "-var", "npm_registry="+reg.URL, "-var", "no_proxy="+noProxy)...)
		if err == nil {
			t.Fatal("a package with a tampered registry signature did not fail the build")
		}
		for _, want := range []string{
			`step "install the app's dependencies with npm (precache miss), then verify their registry signatures" failed`,
			"registry signatures: " + reg.URL + " publishes 1 key: " + reg.signing.keyID,
			"registry signatures: npm audit signatures rejects packages from " + reg.URL + ": " + tamper + "@" + tamperVersion + " (invalid signature)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed build's output lacks %q", want)
			}
		}
		if got := tgt.MustRun(t, "readlink /home/node/app/server; ls /home/node/app/releases"); got != live {
			t.Errorf("the failed build left the releases changed: %q, was %q", got, live)
		}
	})
	ph.run("carnivore packer build (miss, signing registry)", func() {
		reg := startSigningRegistry(t, tgt.HostIP, "")
		tufBefore := tuf.requests.Load()
		out, err := runPacker(t, carnivoreArgs(tgt, "-var", "source_dir="+app, "-var", "npm_registry="+reg.URL, "-var", "no_proxy="+noProxy)...)
		if err != nil {
			t.Fatalf("the build from a registry whose signatures are all valid failed: %v", err)
		}
		if want := fmt.Sprintf("%d packages have verified registry signatures", prod); !strings.Contains(out, want) {
			t.Errorf("the build output lacks %q (the lockfile's production packages)", want)
		}
		t.Logf("signing stand-in: %d key requests, %d versions signed; TUF stand-in: %d requests",
			reg.signing.keyRequests.Load(), reg.signing.signed.Load(), tuf.requests.Load()-tufBefore)
		if reg.signing.keyRequests.Load() < 2 || tuf.requests.Load() == tufBefore {
			t.Error("the keys were not asked from the stand-ins (the probe and npm each ask the registry; npm refreshes TUF first)")
		}
	})
}

var verifiedRE = regexp.MustCompile(`(?m)audited (\d+) packages in \d+s\s*\n(?:.*\n)?.*?(\d+) packages have verified registry signatures`)

// checkVerifiedSignatures checks that a build installed from the signing
// stand-in r and npm audit signatures verified every package it audited,
// and that every request to r, the keys probe's and npm's alike, carried
// the build's npm token: the check used the install's registry and token.
func checkVerifiedSignatures(t *testing.T, out string, r *tokenRegistry) {
	t.Helper()
	m := verifiedRE.FindStringSubmatch(out)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("the build output does not say that npm audit signatures verified every package it audited (%q)", m)
	}
	if !strings.Contains(out, "registry signatures: "+r.URL+" publishes 1 key: "+r.signing.keyID) {
		t.Error("the build output does not say the registry publishes its key")
	}
	with, without := r.withToken.Load(), r.withoutToken.Load()
	t.Logf("signing stand-in: %d requests with the npm token, %d without; %d key requests, %d versions signed", with, without, r.signing.keyRequests.Load(), r.signing.signed.Load())
	if without != 0 || r.signing.keyRequests.Load() < 2 {
		t.Errorf("the signing stand-in got %d requests without the build's npm token and %d key requests; want none without, and the probe's and npm's", without, r.signing.keyRequests.Load())
	}
	if strings.Contains(out, r.Token) {
		t.Error("the build output shows the npm token")
	}
}

// TestSigningRegistry checks the signing stand-in itself, on loopback with
// Go's crypto instead of npm: the key it publishes verifies the signatures
// of a packument it forwards from the host's registry, over the message npm
// checks, and not those of the package it tampers.
func TestSigningRegistry(t *testing.T) {
	r := startSigningRegistry(t, "127.0.0.1", "body-parser")
	get := func(p string, v any) {
		resp, err := http.Get(r.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s: %s, Cache-Control %q", p, resp.Status, resp.Header.Get("Cache-Control"))
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
	}
	var keys struct {
		Keys []struct{ Keyid, Keytype, Scheme, Key string }
	}
	get("-/npm/v1/keys", &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Keytype != "ecdsa-sha2-nistp256" || keys.Keys[0].Scheme != "ecdsa-sha2-nistp256" {
		t.Fatalf("keys = %+v", keys)
	}
	der, _ := base64.StdEncoding.DecodeString(keys.Keys[0].Key)
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	verified := map[string]int{}
	for _, name := range []string{"ms", "body-parser"} {
		var doc struct {
			Versions map[string]struct {
				Dist struct {
					Integrity  string
					Signatures []struct{ Keyid, Sig string }
				}
			}
		}
		get(name, &doc)
		for v, m := range doc.Versions {
			if len(m.Dist.Signatures) != 1 || m.Dist.Signatures[0].Keyid != keys.Keys[0].Keyid {
				t.Fatalf("%s@%s: signatures %+v", name, v, m.Dist.Signatures)
			}
			sig, _ := base64.StdEncoding.DecodeString(m.Dist.Signatures[0].Sig)
			sum := sha256.Sum256([]byte(name + "@" + v + ":" + m.Dist.Integrity))
			if ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], sig) {
				verified[name]++
			}
		}
		t.Logf("%s: %d of %d versions verified", name, verified[name], len(doc.Versions))
		if want := len(doc.Versions); name == "ms" && verified[name] != want || name == "body-parser" && verified[name] != 0 {
			t.Errorf("%s: %d of %d versions verify; want all, or none for the tampered package", name, verified[name], want)
		}
	}
}
