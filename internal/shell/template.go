package shell

import (
	"bytes"
	"fmt"
	"io/fs"
	"text/template"
)

// Funcs are the functions every step template may use. "q" quotes a value
// as one shell word; "qall" quotes a list as separate words. Templates must
// pass every value that is not a compile-time constant through one of them.
var Funcs = template.FuncMap{
	"q":    Quote,
	"qall": QuoteAll,
}

// Render executes the named template file from fsys with data. Templates
// live as embedded files next to the code that fills them.
func Render(fsys fs.FS, name string, data any) (string, error) {
	t, err := template.New(name).Funcs(Funcs).Option("missingkey=error").ParseFS(fsys, name)
	if err != nil {
		return "", fmt.Errorf("parse template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, pathBase(name), data); err != nil {
		return "", fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.String(), nil
}

// MustRender is Render for templates embedded in the binary, where a failure
// is a programming error caught by the golden tests, not bad user input.
func MustRender(fsys fs.FS, name string, data any) string {
	s, err := Render(fsys, name, data)
	if err != nil {
		panic(err)
	}
	return s
}

func pathBase(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
