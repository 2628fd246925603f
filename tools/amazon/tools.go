//go:build tools

// Package amazon pins the amazon builder plugin (amazon-ebs) that the AWS
// example templates in example/aws are validated with. It is a module of its
// own, apart from tools/ and tools/qemu, so that its large dependency tree
// (aws-sdk-go, its SDK version) never touches theirs. v1.8.0 is pinned
// exactly: the Go module proxy answers no version listings for hashicorp
// modules.
package amazon

import (
	_ "github.com/hashicorp/packer-plugin-amazon"
)
