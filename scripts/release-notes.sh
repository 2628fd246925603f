#!/bin/bash
# Prints the section of CHANGELOG.md for one version (without its heading),
# the notes of that version's GitHub release; fails if there is none.
#   scripts/release-notes.sh 0.1.0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
v=${1:?usage: release-notes.sh VERSION}
notes=$(awk -v v="$v" '
  /^## \[/ { if (on) exit; on = index($0, "## [" v "]") == 1; next }
  /^\[[^]]*\]: / { if (on) exit }
  on' CHANGELOG.md)
if [ -z "$(tr -d '[:space:]' <<<"$notes")" ]; then
  echo "release-notes.sh: CHANGELOG.md has no section \"## [$v]\"" >&2
  exit 1
fi
printf '%s\n' "$notes"
