// Package atomicfile replaces files on the machine running Packer whole:
// through a temporary file in the same directory and a rename, so a
// reader, or another writer of the same path (sources of one build running
// in parallel), sees the old file or a new one, never a mix or a part.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces name with b, mode perm.
func Write(name string, b []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // gone after the rename; left only on failure
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
