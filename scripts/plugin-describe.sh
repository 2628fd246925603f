#!/bin/bash
# Prints one field of the plugin's own `describe` (api_version, version, ...),
# from a fresh build of the source tree. The release reads the plugin API
# version (x5.0) that Packer expects in every file name from here, never from
# a hard-coded value.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
field=${1:?usage: plugin-describe.sh FIELD}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/packer-plugin-node" .
desc=$("$tmp/packer-plugin-node" describe)
value=$(sed -n "s/.*\"$field\":\"\([^\"]*\)\".*/\1/p" <<<"$desc")
if [ -z "$value" ]; then
  echo "plugin-describe.sh: no string field $field in: $desc" >&2
  exit 1
fi
printf '%s\n' "$value"
