//go:build !unix

package nodemirror

import "context"

// lockFile is a no-op where flock(2) is missing: concurrent builds of one
// release then both build it, and the second rename fails.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
