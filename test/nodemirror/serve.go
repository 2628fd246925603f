package nodemirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
)

// Mirror is a mirror directory served over plain HTTP.
type Mirror struct {
	URL  string // base URL, "http://127.0.0.1:PORT": node_mirror; URL+"/index.json"
	Dir  string // the directory served
	Addr string // the listening address, "127.0.0.1:PORT"

	// Key signs the mirror's SHASUMS256.txt files (see sign.go); nil with
	// Unsigned.
	Key *gpgtest.Key

	fs         http.Handler
	faults     map[string]fault  // by path below the root, "/v20.18.1/SHASUMS256.txt"
	signatures map[string][]byte // "/v20.18.1/SHASUMS256.txt.asc" and ".sig"
	unsigned   bool

	mu       sync.Mutex
	requests map[string]int
	log      []request
}

// Option changes what Serve serves.
type Option func(*Mirror)

type fault int

const (
	wrongChecksum fault = iota + 1
	corruptArchive
	missingArchive
	badSignature
)

// CorruptChecksum serves version's SHASUMS256.txt with a wrong SHA-256 for
// its archive (a well-formed hash, not the archive's), as a tampered or
// stale mirror would. The archive itself is served intact.
func CorruptChecksum(version string) Option {
	return func(m *Mirror) { m.faults["/"+ShasumsPath(version)] = wrongChecksum }
}

// CorruptArchive serves version's archive with one byte flipped in its
// middle: same size, but neither its SHA-256 nor its xz check matches.
func CorruptArchive(version string) Option {
	return func(m *Mirror) { m.faults["/"+ArchivePath(version)] = corruptArchive }
}

// MissingArchive answers 404 for version's archive, which index.json and
// SHASUMS256.txt still list.
func MissingArchive(version string) Option {
	return func(m *Mirror) { m.faults["/"+ArchivePath(version)] = missingArchive }
}

// Serve serves dir (from Build) over plain HTTP on addr, "127.0.0.1:0" for
// the host and for QEMU guests (user networking reaches the host's loopback
// as 10.0.2.2: see URLFor), or a sandbox target's host-side address
// ("10.203.N.1:0"). Its SHASUMS256.txt files are signed with a key it
// makes (m.Key) unless an option says otherwise. It counts requests per
// path, and stops when the test ends. Serve fails the test if it cannot
// listen, and skips it where gpg cannot make the key.
func Serve(t testing.TB, dir, addr string, opts ...Option) *Mirror {
	t.Helper()
	m, err := newMirror(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.Key == nil && !m.unsigned {
		m.Key = gpgtest.NewT(t, "nodemirror test mirror <nodemirror@example.test>")
	}
	if err := m.sign(); err != nil {
		t.Fatalf("nodemirror: signing SHASUMS256.txt: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("nodemirror: listen on %s: %v", addr, err)
	}
	m.Addr = ln.Addr().String()
	m.URL = "http://" + m.Addr
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	})
	return m
}

func newMirror(dir string, opts []Option) (*Mirror, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("nodemirror: %s is not a mirror: %v", dir, err)
	}
	m := &Mirror{
		Dir:      dir,
		fs:       http.FileServer(http.Dir(dir)),
		faults:   map[string]fault{},
		requests: map[string]int{},
	}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// URLFor is the mirror's URL with another host, as a client elsewhere
// reaches it: URLFor("10.0.2.2") from a QEMU guest for a mirror served on
// 127.0.0.1.
func (m *Mirror) URLFor(host string) string {
	_, port, _ := net.SplitHostPort(m.Addr)
	return "http://" + net.JoinHostPort(host, port)
}

// Requests is how many requests the mirror has had for a path below its
// root ("index.json", "/v22.12.0/node-v22.12.0-linux-x64.tar.xz"), whatever
// their outcome.
func (m *Mirror) Requests(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[cleanPath(p)]
}

// Log lists the requests so far, "GET /index.json 200" each ("-" for a
// status not written yet).
func (m *Mirror) Log() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.log))
	for i, q := range m.log {
		out[i] = q.String()
	}
	return out
}

func cleanPath(p string) string { return path.Clean("/" + p) }

// ServeHTTP serves the mirror's files, with the faults Serve was given. A
// request is counted when it arrives and its status logged when the handler
// writes it, so both are there by the time the client has the response.
func (m *Mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := cleanPath(r.URL.Path)
	m.mu.Lock()
	m.requests[p]++
	m.log = append(m.log, request{method: r.Method, path: p})
	rec := &statusRecorder{ResponseWriter: w, m: m, entry: len(m.log) - 1}
	m.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if sig, ok := m.signatures[p]; ok {
		http.ServeContent(rec, r, path.Base(p), time.Time{}, bytes.NewReader(sig))
		return
	}
	switch m.faults[p] {
	case wrongChecksum:
		m.serveWrongChecksum(rec, r, p)
	case corruptArchive:
		m.serveCorrupt(rec, r, p)
	case missingArchive:
		http.NotFound(rec, r)
	default:
		m.fs.ServeHTTP(rec, r)
	}
}

func (m *Mirror) serveWrongChecksum(w http.ResponseWriter, r *http.Request, p string) {
	name := filepath.Join(m.Dir, filepath.FromSlash(p))
	b, err := os.ReadFile(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	out, err := wrongShasums(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, path.Base(p), time.Time{}, bytes.NewReader(out))
}

// wrongSum is a well-formed SHA-256 that is not sum.
func wrongSum(sum string) string {
	h := sha256.Sum256([]byte("nodemirror: not " + sum))
	return hex.EncodeToString(h[:])
}

func (m *Mirror) serveCorrupt(w http.ResponseWriter, r *http.Request, p string) {
	f, err := os.Open(filepath.Join(m.Dir, filepath.FromSlash(p)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		http.Error(w, fmt.Sprint("cannot corrupt ", p, ": ", err), http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, path.Base(p), st.ModTime(), &flipReader{f: f, at: st.Size() / 2})
}

// flipReader reads f with the byte at offset at inverted.
type flipReader struct {
	f   *os.File
	at  int64
	pos int64
}

func (r *flipReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if r.at >= r.pos && r.at < r.pos+int64(n) {
		b[r.at-r.pos] ^= 0xff
	}
	r.pos += int64(n)
	return n, err
}

func (r *flipReader) Seek(off int64, whence int) (int64, error) {
	pos, err := r.f.Seek(off, whence)
	if err == nil {
		r.pos = pos
	}
	return pos, err
}

var _ io.ReadSeeker = (*flipReader)(nil)

// request is one entry of the log.
type request struct {
	method, path string
	status       int // 0 until the handler writes it
}

func (q request) String() string {
	status := "-"
	if q.status != 0 {
		status = strconv.Itoa(q.status)
	}
	return q.method + " " + q.path + " " + status
}

// statusRecorder puts the status a handler writes in the mirror's log.
type statusRecorder struct {
	http.ResponseWriter
	m     *Mirror
	entry int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		s.m.mu.Lock()
		s.m.log[s.entry].status = code
		s.m.mu.Unlock()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
