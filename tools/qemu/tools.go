//go:build tools

// Package qemu pins the QEMU builder plugin the VM e2e tests build images
// with. It is a module of its own, apart from tools/, so that its large
// dependency tree never touches Packer's. v1.0.9 is the release the Go module
// proxy serves; unlike the SDK-based tools it builds without the go-cty
// replace.
package qemu

import (
	_ "github.com/hashicorp/packer-plugin-qemu"
)
