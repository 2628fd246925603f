package core

import (
	"fmt"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// AddFunc records one problem with a field: its name, and the reason.
type AddFunc func(field, format string, a ...any)

// Errors collects every problem of a configuration, so Prepare reports all
// of them at once, each prefixed with the field's name.
type Errors struct{ errs *packersdk.MultiError }

// Add records a problem with field.
func (e *Errors) Add(field, format string, a ...any) {
	e.errs = packersdk.MultiErrorAppend(e.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
}

// Err is nil when nothing was added, or all problems as one error.
func (e *Errors) Err() error {
	if e.errs == nil || len(e.errs.Errors) == 0 {
		return nil
	}
	return e.errs
}
