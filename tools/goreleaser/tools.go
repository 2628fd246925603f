//go:build tools

// Package goreleaser pins GoReleaser v2, which `make release-snapshot` and the
// release workflow run on .goreleaser.yml. It is a module of its own, apart
// from tools/, so that its large dependency tree never touches Packer's.
package goreleaser

import (
	_ "github.com/goreleaser/goreleaser/v2"
)
