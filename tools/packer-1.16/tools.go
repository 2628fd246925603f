//go:build tools

// Package tools pins Packer v1.16.0, built from the Go module proxy into
// .tools/bin/packer-1.16.0 (see tools/tools.go for why a module, not go install).
package tools

import _ "github.com/hashicorp/packer"
