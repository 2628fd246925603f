package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWriteConcurrent: sources of one build writing the same path (a
// node-carnivore sbom_output) at once leave one writer's whole document,
// never a mix, and no temporary file; a reader meanwhile (a CI step
// picking it up) never sees a partial one.
func TestWriteConcurrent(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "sbom.cdx.json")
	docs := make([][]byte, 4)
	for i := range docs {
		docs[i] = bytes.Repeat([]byte{byte('a' + i)}, 4<<20)
	}
	isWhole := func(b []byte) bool {
		for _, d := range docs {
			if bytes.Equal(b, d) {
				return true
			}
		}
		return false
	}
	if err := Write(name, docs[0], 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	partial := make(chan int, 1)
	go func() {
		defer close(partial)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b, err := os.ReadFile(name); err == nil && !isWhole(b) {
				partial <- len(b)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if err := Write(name, docs[i], 0o644); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if n, ok := <-partial; ok {
		t.Errorf("a reader saw a partial file (%d bytes) while the builds wrote it", n)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !isWhole(got) {
		t.Errorf("the file holds a mix of the writers' documents (%d bytes)", len(got))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the directory: %v", entries)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
	}
}
