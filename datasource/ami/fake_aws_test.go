package ami

import (
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test credentials: the fake checks that requests are signed with these,
// which proves that nothing came from the developer's own AWS setup.
const (
	testAccessKey = "AKIDNODEAMITEST"
	testSecretKey = "node-ami-test-secret-0123456789"
	testRegion    = "us-east-1"
)

// isolateAWS cuts the test off from the developer's AWS configuration: no
// IMDS, empty shared config and credentials files, a throwaway HOME, no
// AWS_* variables but static test credentials.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
}

// fakeImage is one image the fake EC2 returns.
type fakeImage struct {
	ID, Name, Created, Owner, Arch, State, Deprecation string
	Tags                                               map[string]string
}

func (im fakeImage) xml() string {
	var b strings.Builder
	esc := func(s string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	state := im.State
	if state == "" {
		state = "available"
	}
	owner := im.Owner
	if owner == "" {
		owner = "123456789012"
	}
	arch := im.Arch
	if arch == "" {
		arch = "x86_64"
	}
	fmt.Fprintf(&b, "<item><imageId>%s</imageId><imageLocation>%s/%s</imageLocation><imageState>%s</imageState>"+
		"<imageOwnerId>%s</imageOwnerId><creationDate>%s</creationDate><isPublic>false</isPublic>"+
		"<architecture>%s</architecture><imageType>machine</imageType><name>%s</name>"+
		"<rootDeviceType>ebs</rootDeviceType><virtualizationType>hvm</virtualizationType>",
		esc(im.ID), owner, esc(im.Name), state, owner, esc(im.Created), arch, esc(im.Name))
	if im.Deprecation != "" {
		fmt.Fprintf(&b, "<deprecationTime>%s</deprecationTime>", im.Deprecation)
	}
	if len(im.Tags) > 0 {
		b.WriteString("<tagSet>")
		for _, k := range sortedKeys(im.Tags) {
			fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", esc(k), esc(im.Tags[k]))
		}
		b.WriteString("</tagSet>")
	}
	b.WriteString("</item>")
	return b.String()
}

func describeImagesXML(images []fakeImage, nextToken string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`)
	b.WriteString(`<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><imagesSet>`)
	for _, im := range images {
		b.WriteString(im.xml())
	}
	b.WriteString(`</imagesSet>`)
	if nextToken != "" {
		fmt.Fprintf(&b, "<nextToken>%s</nextToken>", nextToken)
	}
	b.WriteString(`</DescribeImagesResponse>`)
	return b.String()
}

func ec2ErrorXML(code, message string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>`+
		`<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>`, code, message)
}

// recorded is one request the fake received.
type recorded struct {
	Form   url.Values
	Header http.Header
}

// answer is what the fake says to one request.
type answer struct {
	Status int
	Body   string
}

// fakeAWS is an httptest server that speaks the Query protocol of EC2
// (DescribeImages) and STS (AssumeRole), as the real SDK clients send it.
type fakeAWS struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	// describe answers the n-th DescribeImages request (0-based).
	describe func(n int, form url.Values) answer
	// assumeRole answers AssumeRole; nil means the action is unexpected.
	assumeRole func(form url.Values) answer
}

func newFakeAWS(t *testing.T) *fakeAWS {
	t.Helper()
	f := &fakeAWS{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) URL() string { return f.srv.URL }

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.t.Errorf("fake AWS: unexpected %s request with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		http.Error(w, "want a form POST", http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		f.t.Errorf("fake AWS: bad form body %q: %v", body, err)
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, recorded{Form: form, Header: r.Header.Clone()})
	n := 0
	for _, rq := range f.requests[:len(f.requests)-1] {
		if rq.Form.Get("Action") == form.Get("Action") {
			n++
		}
	}
	f.mu.Unlock()

	var a answer
	switch form.Get("Action") {
	case "DescribeImages":
		if f.describe == nil {
			f.t.Errorf("fake AWS: unexpected DescribeImages")
			a = answer{400, ec2ErrorXML("InvalidAction", "not expected")}
		} else {
			a = f.describe(n, form)
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	case "AssumeRole":
		if f.assumeRole == nil {
			f.t.Errorf("fake AWS: unexpected AssumeRole")
			a = answer{400, "<ErrorResponse/>"}
		} else {
			a = f.assumeRole(form)
		}
		w.Header().Set("Content-Type", "text/xml")
	default:
		f.t.Errorf("fake AWS: unexpected action %q", form.Get("Action"))
		a = answer{400, ec2ErrorXML("InvalidAction", "unknown action")}
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// actions returns the recorded requests of one action.
func (f *fakeAWS) actions(action string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.requests {
		if r.Form.Get("Action") == action {
			out = append(out, r)
		}
	}
	return out
}

// servePages makes DescribeImages answer with the given pages, chained by
// next tokens "page-2", "page-3", ...; it checks that each request asks for
// the page it should.
func (f *fakeAWS) servePages(pages ...[]fakeImage) {
	f.describe = func(n int, form url.Values) answer {
		want := ""
		if n > 0 {
			want = fmt.Sprintf("page-%d", n+1)
		}
		if got := form.Get("NextToken"); got != want {
			f.t.Errorf("DescribeImages request %d: NextToken = %q, want %q", n+1, got, want)
		}
		if n >= len(pages) {
			f.t.Errorf("DescribeImages request %d: only %d pages exist", n+1, len(pages))
			return answer{400, ec2ErrorXML("InvalidParameterValue", "no such page")}
		}
		next := ""
		if n+1 < len(pages) {
			next = fmt.Sprintf("page-%d", n+2)
		}
		return answer{200, describeImagesXML(pages[n], next)}
	}
}

// serveImages makes DescribeImages answer, in one page, with the images
// that pass the request's tag filters (tag:<key> = one value), as EC2
// applies them; the name pattern is not checked.
func (f *fakeAWS) serveImages(images []fakeImage) {
	f.describe = func(n int, form url.Values) answer {
		want := map[string]string{}
		for i := 1; form.Get(fmt.Sprintf("Filter.%d.Name", i)) != ""; i++ {
			if k, ok := strings.CutPrefix(form.Get(fmt.Sprintf("Filter.%d.Name", i)), "tag:"); ok {
				want[k] = form.Get(fmt.Sprintf("Filter.%d.Value.1", i))
			}
		}
		var match []fakeImage
		for _, im := range images {
			ok := true
			for k, v := range want {
				if im.Tags[k] != v {
					ok = false
				}
			}
			if ok {
				match = append(match, im)
			}
		}
		return answer{200, describeImagesXML(match, "")}
	}
}

// blackHole is a TCP endpoint on loopback that accepts connections and
// holds them open without ever writing a byte: an EC2 or STS endpoint that
// is reachable but never answers.
type blackHole struct {
	ln net.Listener

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.accepted++
			b.mu.Unlock()
			// Drain what the client sends so that its writes never block,
			// but answer nothing.
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

// URL is the black hole's address as an http:// endpoint.
func (b *blackHole) URL() string { return "http://" + b.ln.Addr().String() }

// connections is how many connections the black hole has accepted.
func (b *blackHole) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accepted
}
