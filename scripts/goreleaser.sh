#!/bin/bash
# Runs GoReleaser (GORELEASER, default .tools/bin/goreleaser, which `make
# release-snapshot` and `make release` build from tools/goreleaser) on
# .goreleaser.yml with the two values it reads from the environment, both
# taken from the plugin itself:
#   API_VERSION         the plugin API version of its `describe` (x5.0), part
#                       of every file name Packer looks for;
#   PLUGIN_DEV_VERSION  the version an untagged build reports (version/,
#                       0.1.0-dev): a snapshot is stamped with it, since
#                       Packer installs only releases and -dev pre-releases.
# A real release (no --snapshot) must run on a tag vX.Y.Z whose X.Y.Z is
# version/version.go's Version, so the source and the release agree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { echo "goreleaser.sh: $*" >&2; exit 1; }

API_VERSION=$(scripts/plugin-describe.sh api_version)
PLUGIN_DEV_VERSION=$(scripts/plugin-describe.sh version)
[[ $API_VERSION =~ ^x[0-9]+\.[0-9]+$ ]] || die "unexpected api_version $API_VERSION"
[[ $PLUGIN_DEV_VERSION == *-dev ]] || die "version/ should say -dev outside a release, says $PLUGIN_DEV_VERSION"
export API_VERSION PLUGIN_DEV_VERSION

snapshot=false
for a in "$@"; do [ "$a" = --snapshot ] && snapshot=true; done
if ! $snapshot; then
  tag=$(git describe --tags --exact-match HEAD 2>/dev/null) || die "a release runs on a tagged commit (vX.Y.Z); use --snapshot otherwise"
  [ "$tag" = "v${PLUGIN_DEV_VERSION%-dev}" ] ||
    die "tag $tag does not match version/version.go ($PLUGIN_DEV_VERSION): set Version there to ${tag#v} first"
fi

# RELEASE_TARGETS=os/arch narrows a snapshot to one target (the cheap form
# `make e2e` uses): .goreleaser.yml with that one goos and goarch.
if [ -n "${RELEASE_TARGETS:-}" ]; then
  [[ $RELEASE_TARGETS =~ ^[a-z0-9]+/[a-z0-9]+$ ]] || die "RELEASE_TARGETS must be one os/arch, such as linux/amd64, got '$RELEASE_TARGETS'"
  $snapshot || die "RELEASE_TARGETS narrows snapshots only: a release carries every target"
  cfg=$(mktemp --suffix=.goreleaser.yml)
  trap 'rm -f "$cfg"' EXIT
  sed -e "s|^    goos: \[.*\]\$|    goos: [${RELEASE_TARGETS%/*}]|" \
    -e "s|^    goarch: \[.*\]\$|    goarch: [${RELEASE_TARGETS#*/}]|" .goreleaser.yml >"$cfg"
  grep -qx "    goos: \[${RELEASE_TARGETS%/*}\]" "$cfg" && grep -qx "    goarch: \[${RELEASE_TARGETS#*/}\]" "$cfg" ||
    die "cannot narrow .goreleaser.yml to $RELEASE_TARGETS (its builds' goos/goarch lines changed?)"
  set -- "$@" --config "$cfg"
fi

echo "goreleaser.sh: API_VERSION=$API_VERSION PLUGIN_DEV_VERSION=$PLUGIN_DEV_VERSION${RELEASE_TARGETS:+ RELEASE_TARGETS=$RELEASE_TARGETS}"
"${GORELEASER:-.tools/bin/goreleaser}" "$@"
