package nodejs

import (
	"strings"
	"testing"
	"time"
)

func TestDistroWarning(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for distro, want := range map[string]string{
		"debian 12":    `installs debian 12's Node.js 18, past its end of life since 2025-04-30`,
		"ubuntu 22.04": `installs ubuntu 22.04's Node.js 12, past its end of life since 2022-04-30`,
		"ubuntu 24.04": `Node.js 18, past its end of life since 2025-04-30`,
		"debian 13":    `Node.js 20, past its end of life since 2026-04-30`,
	} {
		if got := DistroWarning(distro, now); !strings.Contains(got, want) || !strings.HasPrefix(got, "WARNING: ") {
			t.Errorf("DistroWarning(%q) = %q; want %q", distro, got, want)
		}
	}
	// Before its end of life, Debian 13's Node.js 20 gets no warning.
	if got := DistroWarning("debian 13", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != "" {
		t.Errorf("warning before the end of life: %q", got)
	}
	if got := DistroWarning("fedora 41", now); got != "" {
		t.Errorf("warning for a release we do not know: %q", got)
	}
}
