//go:build tools

// Package actionlint pins actionlint, which `make lint-workflows` (and so CI)
// runs on .github/workflows: the workflows cannot run here, so they are
// checked statically.
package actionlint

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
)
