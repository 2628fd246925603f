//go:build tools

// Package tools pins the exact versions of the command-line tools the project
// builds from the Go module proxy: Packer itself and packer-sdc. The module
// proxy refuses version listings for hashicorp modules, so `go install
// pkg@version` fails; building from this module with exact versions works.
package tools

import (
	_ "github.com/hashicorp/packer"
	_ "github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc"
)
