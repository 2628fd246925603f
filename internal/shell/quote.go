// Package shell holds the one helper that turns an arbitrary string into a
// literal for a POSIX shell, and the template functions built on it. Every
// user-supplied value that reaches a remote script goes through Quote (or is
// validated to a strict grammar first, see package validate).
package shell

import "strings"

// Quote returns s as a single POSIX shell word that the shell reads back as
// exactly s: it is wrapped in single quotes, and each embedded single quote
// is written as quote, backslash, quote, quote (close, escaped quote,
// reopen). Nothing inside single
// quotes is special to the shell: not $, `, \, newlines or globs.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteAll quotes every element and joins them with single spaces, for use as
// an argument list.
func QuoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// isSafe reports whether s contains only characters that no POSIX shell
// treats specially anywhere in a word, so it can be written bare. Keeping
// these unquoted makes the rendered scripts easier to read.
func isSafe(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_./:,+@%=", r):
		default:
			return false
		}
	}
	// '~' is excluded above (tilde expansion). A leading '-' only matters to
	// the called program, which is the caller's concern (use "--").
	return true
}
