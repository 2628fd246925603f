// Package archive streams a local directory as one gzip-compressed tar,
// written while it is read: the app is uploaded as a single stream over the
// communicator, with no temporary copy on the local disk and no per-file
// exchange (scp, under Packer's file provisioner, waits for an
// acknowledgement after every file, which adds up over a link with latency).
package archive

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultExcludes are always left out of an upload, whatever `exclude`
// adds: version control, local dependencies (the image installs its own,
// for its platform), and local secrets (the env file has its own upload).
var DefaultExcludes = []string{".git", "node_modules", ".env", ".npmrc"}

// Excluded reports whether rel (slash-separated, relative to the root) is
// left out by patterns. A pattern without a slash matches any path element
// (".git", "*.log"); one with a slash, or starting with one, matches from
// the root ("tmp/cache", "/dist").
func Excluded(rel string, patterns []string) bool {
	elems := strings.Split(rel, "/")
	for _, p := range patterns {
		anchored := strings.HasPrefix(p, "/")
		p = strings.Trim(p, "/")
		if anchored || strings.Contains(p, "/") {
			for i := range elems {
				if ok, _ := path.Match(p, strings.Join(elems[:i+1], "/")); ok {
					return true
				}
			}
			continue
		}
		for _, e := range elems {
			if ok, _ := path.Match(p, e); ok {
				return true
			}
		}
	}
	return false
}

// ValidPattern checks an exclude pattern.
func ValidPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil || p == "" {
		return fmt.Errorf("%q is not a valid pattern", p)
	}
	return nil
}

// Stream returns a reader of dir as a tar.gz, leaving out what patterns
// exclude. Entries carry no owner: the extracting user owns them. Errors
// while walking surface from Read.
func Stream(dir string, patterns []string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw, dir, patterns)) }()
	return pr
}

// Count walks dir like Stream and returns how many entries it would send.
func Count(dir string, patterns []string) (files int, bytes int64, err error) {
	err = walk(dir, patterns, func(rel string, d fs.DirEntry, fi fs.FileInfo) error {
		if fi.Mode().IsRegular() {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}

// CheckLinks refuses a symlink in dir (one not excluded by patterns) that
// points outside dir: on the image it would point elsewhere, or at
// nothing. It names the link and its target.
func CheckLinks(dir string, patterns []string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return walk(root, patterns, func(rel string, d fs.DirEntry, fi fs.FileInfo) error {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		to := target
		if !filepath.IsAbs(to) {
			to = filepath.Join(root, filepath.Dir(filepath.FromSlash(rel)), to)
		}
		if to = filepath.Clean(to); to != root && !strings.HasPrefix(to, root+string(filepath.Separator)) {
			return fmt.Errorf("%s is a link to %s, outside the app: copy what it points to into the app, or exclude the link", rel, target)
		}
		return nil
	})
}

// walk visits dir's entries not excluded by patterns. A dir that is itself
// a symlink (source = "current" pointing at a build) is followed.
func walk(dir string, patterns []string, fn func(rel string, d fs.DirEntry, fi fs.FileInfo) error) error {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if Excluded(rel, patterns) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, d, fi)
	})
}

func write(w io.Writer, dir string, patterns []string) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	err := walk(dir, patterns, func(rel string, d fs.DirEntry, fi fs.FileInfo) error {
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
				return err
			}
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // sockets, devices, fifos: not part of an app
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
