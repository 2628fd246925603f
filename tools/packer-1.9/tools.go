//go:build tools

// Package tools pins Packer v1.9.4, built from the Go module proxy into
// .tools/bin/packer-1.9.4 (see tools/tools.go for why a module, not go install).
package tools

import _ "github.com/hashicorp/packer"
