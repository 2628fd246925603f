package nodemirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// xzArgs compress the archive. Level 0 is chosen for build time: on this
// project's 2-core machines a ~187 MB tar takes ~21 s at -0 and ~140 s at -6
// (the default), for ~39 MB instead of ~30 MB. -T0 writes blocks that xz can
// also decompress in parallel.
var xzArgs = []string{"-0", "-T0", "-c"}

// entryTime is the mtime of the entries the archive adds (directories, the
// npm and npx links): the one npm gives every file of a package.
var entryTime = time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)

// writeArchive writes dst, node-vVERSION-PLATFORM.tar.xz as nodejs.org
// lays it out (the top directory is dst's name without .tar.xz), from the
// node-PLATFORM package (nodeTgz: package/bin/node, include/, share/, *.md,
// LICENSE) and the npm package (npmTgz):
//
//	node-vX.Y.Z-linux-x64/bin/node
//	node-vX.Y.Z-linux-x64/bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js
//	node-vX.Y.Z-linux-x64/bin/npx -> ../lib/node_modules/npm/bin/npx-cli.js
//	node-vX.Y.Z-linux-x64/lib/node_modules/npm/...
//	node-vX.Y.Z-linux-x64/{include,share,CHANGELOG.md,LICENSE,README.md}
//
// Entries are owned by 0:0. The tar stream is compressed by the system's xz.
func writeArchive(ctx context.Context, dst, nodeTgz, npmTgz string) (err error) {
	top := strings.TrimSuffix(filepath.Base(dst), ".tar.xz") + "/"
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	var stderr bytes.Buffer
	xz := exec.CommandContext(ctx, "xz", xzArgs...)
	xz.Stdout, xz.Stderr = out, &stderr
	stdin, err := xz.StdinPipe()
	if err != nil {
		return err
	}
	if err := xz.Start(); err != nil {
		return fmt.Errorf("xz (from xz-utils): %w", err)
	}
	werr := func() error {
		tw := &treeWriter{tw: tar.NewWriter(stdin), dirs: map[string]bool{}}
		if err := tw.dir(top); err != nil {
			return err
		}
		// The package's own manifest is not part of Node's archive.
		skip := map[string]bool{"package.json": true}
		if err := tw.copyPackage(nodeTgz, top, skip); err != nil {
			return fmt.Errorf("node package %s: %w", filepath.Base(nodeTgz), err)
		}
		if err := tw.copyPackage(npmTgz, top+"lib/node_modules/npm/", nil); err != nil {
			return fmt.Errorf("npm package %s: %w", filepath.Base(npmTgz), err)
		}
		for name, target := range map[string]string{
			"bin/npm": "../lib/node_modules/npm/bin/npm-cli.js",
			"bin/npx": "../lib/node_modules/npm/bin/npx-cli.js",
		} {
			if err := tw.symlink(top+name, target); err != nil {
				return err
			}
		}
		return tw.tw.Close()
	}()
	cerr := stdin.Close()
	xerr := xz.Wait()
	switch {
	case werr != nil:
		return werr
	case cerr != nil:
		return cerr
	case xerr != nil:
		return fmt.Errorf("xz: %w: %s", xerr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// treeWriter writes a tar stream in which every file's parent directories
// come before it, as in an archive made with tar -c.
type treeWriter struct {
	tw   *tar.Writer
	dirs map[string]bool
}

func (w *treeWriter) dir(name string) error {
	name = strings.TrimSuffix(name, "/")
	if name == "" || name == "." || w.dirs[name] {
		return nil
	}
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	w.dirs[name] = true
	return w.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: entryTime, Format: tar.FormatPAX,
	})
}

func (w *treeWriter) symlink(name, target string) error {
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	return w.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: entryTime, Format: tar.FormatPAX,
	})
}

// copyPackage copies an npm package tarball's entries (package/...) under
// prefix, skipping the top-level files named in skip.
func (w *treeWriter) copyPackage(tgz, prefix string, skip map[string]bool) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		// npm packs everything below one top directory, usually "package/".
		_, rel, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok {
			continue
		}
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" || skip[rel] {
			continue
		}
		if path.IsAbs(rel) || rel != path.Clean(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("entry %q leaves the package", h.Name)
		}
		name := prefix + rel
		switch h.Typeflag {
		case tar.TypeDir:
			if err := w.dir(name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := w.dir(path.Dir(name)); err != nil {
				return err
			}
			mode := int64(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			if err := w.tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeReg, Name: name, Size: h.Size, Mode: mode, ModTime: h.ModTime, Format: tar.FormatPAX,
			}); err != nil {
				return err
			}
			if _, err := io.Copy(w.tw, tr); err != nil {
				return err
			}
			files++
		case tar.TypeSymlink:
			if err := w.symlink(name, h.Linkname); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: unexpected type %q", h.Name, h.Typeflag)
		}
	}
	if files == 0 {
		return errors.New("no files")
	}
	return nil
}

// readPackageFile returns one file (e.g. "CHANGELOG.md") of an npm package
// tarball.
func readPackageFile(tgz, name string) ([]byte, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s has no %s", filepath.Base(tgz), name)
		}
		if err != nil {
			return nil, err
		}
		if _, rel, _ := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/"); rel == name && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// processVersions is the part of node's process.versions that index.json lists.
type processVersions struct {
	Node    string `json:"node"`
	V8      string `json:"v8"`
	UV      string `json:"uv"`
	Zlib    string `json:"zlib"`
	OpenSSL string `json:"openssl"`
	Modules string `json:"modules"`
}

// verifyArchive unpacks a linux-x64 archive with the system's tar -xJf, as
// a Debian machine would, into a temporary directory below scratch, and
// checks that bin/node --version is vVERSION and bin/npm --version (npm
// reaching its own lib through the bin/npm link) is npmVersion. It returns
// node's process.versions.
func verifyArchive(ctx context.Context, scratch, archive, version, npmVersion string) (processVersions, error) {
	pv, _, err := verifyPlatformArchive(ctx, scratch, archive, version, LinuxX64, npmVersion)
	return pv, err
}

// hostPlatform is the platform whose binaries this host runs natively.
func hostPlatform() string {
	if runtime.GOARCH == "arm64" {
		return LinuxARM64
	}
	return LinuxX64
}

// verifyPlatformArchive is verifyArchive for any platform's archive. An
// archive of another platform than the host's must hold a bin/node that is
// an ELF executable for that platform's machine; it is then run like the
// host's own where the host can (binfmt_misc with qemu-user, and the
// platform's dynamic loader installed), and ran says whether it was.
func verifyPlatformArchive(ctx context.Context, scratch, archive, version, platform, npmVersion string) (pv processVersions, ran bool, err error) {
	dir, err := os.MkdirTemp(scratch, "verify-")
	if err != nil {
		return pv, false, err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.CommandContext(ctx, "tar", "-xJf", archive, "-C", dir).CombinedOutput(); err != nil {
		return pv, false, fmt.Errorf("tar -xJf %s: %w: %s", filepath.Base(archive), err, out)
	}
	top := filepath.Join(dir, strings.TrimSuffix(PlatformArchiveName(version, platform), ".tar.xz"))
	bin := filepath.Join(top, "bin")
	if platform != hostPlatform() {
		interp, err := checkELF(filepath.Join(bin, "node"), platforms[platform])
		if err != nil {
			return pv, false, err
		}
		if _, err := os.Stat(interp); interp != "" && err != nil {
			return pv, false, nil // no loader for it here: checked as an ELF file only
		}
	}
	pv, err = runArchive(ctx, dir, bin, version, npmVersion)
	if platform != hostPlatform() && errors.Is(err, syscall.ENOEXEC) {
		return pv, false, nil // checked as an ELF file only
	}
	return pv, err == nil, err
}

// checkELF checks that path is an ELF executable for machine, and returns
// its program interpreter (the dynamic loader; "" for a static binary).
func checkELF(path string, machine elf.Machine) (interp string, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("bin/node: %w", err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != elf.ELFCLASS64 || (f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN) {
		return "", fmt.Errorf("bin/node is a %s %s %s, want a 64-bit executable for %s", f.Class, f.Type, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", fmt.Errorf("bin/node: its program interpreter: %w", err)
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", nil
}

// runArchive checks the unpacked archive's bin/npm and bin/npx links and
// runs bin/node and bin/npm from it.
func runArchive(ctx context.Context, dir, bin, version, npmVersion string) (processVersions, error) {
	var pv processVersions
	for name, want := range map[string]string{
		"npm": "../lib/node_modules/npm/bin/npm-cli.js",
		"npx": "../lib/node_modules/npm/bin/npx-cli.js",
	} {
		if got, err := os.Readlink(filepath.Join(bin, name)); err != nil || got != want {
			return pv, fmt.Errorf("bin/%s: link to %q (%v), want %q", name, got, err, want)
		}
	}
	run := func(name string, args ...string) (string, error) {
		c := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		// npm's #!/usr/bin/env node must find this node, not the host's.
		c.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"npm_config_update_notifier=false", "NO_UPDATE_NOTIFIER=1")
		c.Dir = dir
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			return "", fmt.Errorf("bin/%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(stdout.String()), nil
	}
	v := "v" + strings.TrimPrefix(version, "v")
	if got, err := run("node", "--version"); err != nil {
		return pv, err
	} else if got != v {
		return pv, fmt.Errorf("bin/node --version = %q, want %q", got, v)
	}
	if got, err := run("npm", "--version"); err != nil {
		return pv, err
	} else if got != npmVersion {
		return pv, fmt.Errorf("bin/npm --version = %q, want %q", got, npmVersion)
	}
	out, err := run("node", "-p", "JSON.stringify(process.versions)")
	if err != nil {
		return pv, err
	}
	if err := json.Unmarshal([]byte(out), &pv); err != nil {
		return pv, fmt.Errorf("process.versions %q: %w", out, err)
	}
	return pv, nil
}

// sha256File returns a file's hex SHA-256.
func sha256File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
