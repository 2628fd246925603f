// Command nodemirror builds the local Node.js mirror (package nodemirror)
// and serves it until it is stopped: for `make demo` and for trying
// node-primal by hand against a sandbox target, outside `go test`.
//
//	nodemirror -listen 10.203.1.1:0 -key /tmp/mirror-key.asc 22.23.3
//	nodemirror -platforms linux-arm64 22.23.3     (linux-arm64's archives too)
//
// It signs each release's SHASUMS256.txt (SHASUMS256.txt.asc and .sig)
// with a key it makes for this run, writes that key's armored public key
// to the -key file (for node_release_keys), and prints the mirror's URL on
// stdout once it listens.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nodebake/packer-plugin-node/internal/gpgtest"
	"github.com/nodebake/packer-plugin-node/test/nodemirror"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	keyOut := flag.String("key", "", "write the armored public key that signs SHASUMS256.txt to this file")
	more := flag.String("platforms", "", "comma-separated platforms to serve besides linux-x64 (linux-arm64)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) { log.Printf(f, a...) }
	var plats []string
	if *more != "" {
		plats = strings.Split(*more, ",")
	}
	dir, err := nodemirror.BuildPlatformsContext(ctx, logf, plats, flag.Args()...)
	if err != nil {
		log.Fatal(err)
	}
	keyDir, err := os.MkdirTemp("", "nodemirror-key-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(keyDir)
	key, err := gpgtest.New(keyDir, "nodemirror <nodemirror@example.test>")
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	m, err := nodemirror.NewSigned(dir, key)
	if err != nil {
		log.Fatal(err)
	}
	key.Close() // the signatures are made: stop gpg's agent now
	if *keyOut != "" {
		pub, err := os.ReadFile(key.PublicKey)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*keyOut, pub, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("SHASUMS256.txt signed by %s", key.Fingerprint)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
