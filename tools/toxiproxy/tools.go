//go:build tools

// Package toxiproxy pins the Toxiproxy server (Shopify/toxiproxy v2.12.0) the
// e2e fault tier puts between Packer and a sandbox target's SSH, and between
// the target and its Node.js mirror. A module of its own, apart from tools/,
// so that its dependencies never touch Packer's or the plugin's.
package toxiproxy

import (
	_ "github.com/Shopify/toxiproxy/v2/cmd/server"
)
