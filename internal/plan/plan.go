// Package plan holds what a provisioner is going to do, before any machine
// exists: an ordered list of named steps. Each step uploads files and/or runs
// one shell script as root, and each is written to be idempotent, because
// Packer's max_retries reruns the whole provisioner and users rerun builds.
//
// A plan is plain data: it renders to text for golden tests and dry runs,
// and package runner executes it over a Packer communicator.
package plan

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// File is content to install on the target at Path with Mode and Owner.
// The runner stages it in a private temporary directory and installs it
// atomically with install(1), so a rerun simply replaces it.
type File struct {
	Path    string
	Mode    fs.FileMode
	Owner   string // user name; "" means root
	Group   string // group name; "" means the owner's primary group
	Content []byte
	// Sensitive content is never rendered nor printed.
	Sensitive bool
	// Summary, when set, is rendered in place of the content: for binary
	// content such as a keyring.
	Summary string
}

// Step is one named unit of work. Files are installed first, then Script
// runs as root under "sh -eu" with the prelude of package runner.
type Step struct {
	Name   string
	Files  []File
	Script string
	// Stdin, when set, is streamed to the script's standard input.
	Stdin *Stream
}

// Stream is data produced while it is sent, such as an archive of the app.
type Stream struct {
	// Describe says what the stream holds, for renders and logs.
	Describe string
	Open     func() io.ReadCloser
}

// Plan is the ordered list of steps of one provisioner run, and the
// prelude every step's script starts with (see runner.Prelude).
type Plan struct {
	Prelude string
	Steps   []Step
}

// Add appends steps to the plan.
func (p *Plan) Add(steps ...Step) { p.Steps = append(p.Steps, steps...) }

// Render writes the plan as text: what golden tests compare and what a dry
// run prints, the prelude once at the top, then every step. Sensitive file
// content is replaced by a marker.
func (p Plan) Render() string {
	var b strings.Builder
	if p.Prelude != "" {
		b.WriteString("### prelude (every step's script starts with it)\n")
		b.WriteString(p.Prelude)
		if !strings.HasSuffix(p.Prelude, "\n") {
			b.WriteString("\n")
		}
	}
	for i, s := range p.Steps {
		b.WriteString(s.render(i + 1))
	}
	return b.String()
}

// Render writes one step as text, numbered n, as Plan.Render does.
func (s Step) Render(n int) string { return s.render(n) }

func (s Step) render(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### step %d: %s\n", n, s.Name)
	for _, f := range s.Files {
		owner := f.Owner
		if owner == "" {
			owner = "root"
		}
		if f.Group != "" {
			owner += ":" + f.Group
		}
		fmt.Fprintf(&b, "--- file %s (mode %04o, owner %s)\n", f.Path, f.Mode.Perm(), owner)
		if f.Sensitive {
			fmt.Fprintf(&b, "<sensitive: %d bytes not shown>\n", len(f.Content))
		} else if f.Summary != "" {
			fmt.Fprintf(&b, "<%s\n>\n", f.Summary)
		} else {
			b.Write(f.Content)
			if len(f.Content) > 0 && f.Content[len(f.Content)-1] != '\n' {
				b.WriteString("\n")
			}
		}
	}
	if s.Stdin != nil {
		fmt.Fprintf(&b, "--- stdin: %s\n", s.Stdin.Describe)
	}
	if s.Script != "" {
		b.WriteString("--- script\n")
		b.WriteString(s.Script)
		if !strings.HasSuffix(s.Script, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}
