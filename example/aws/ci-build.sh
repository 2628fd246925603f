#!/bin/bash
# ci-build.sh - the two-stage pipeline as a CI job runs it: build the primal
# image only when no primal image matches the app, then the release image on
# the one that does.
#
#   1. the fingerprint of the primal image the app needs, computed on this
#      host by the node-fingerprint data source in primal.pkr.hcl (no machine
#      is started): packer build -only=fingerprint.null.fingerprint
#   2. the look-up: node-ami in carnivore.pkr.hcl with that fingerprint
#      (packer validate -evaluate-datasources, which runs the data sources
#      and nothing else)
#   3. when nothing matches: packer build of primal.pkr.hcl with the exact
#      Node.js release the fingerprint names, so the image gets that very
#      fingerprint as its tags
#   4. packer build of carnivore.pkr.hcl on the matching primal image, which
#      fails unless the app's dependencies come from its precache
#
# Run it from anywhere, with AWS credentials in the usual places (AWS_*
# variables, a profile, an instance role), after `packer init` of both
# templates. Settings come from the environment:
#
#   APP_NAME (ponyfoo), ENVIRONMENT (production), REGION (us-east-1),
#   NODE_VERSION (22: exact, a major or lts), NODE_MIRROR (nodejs.org's dist),
#   PACKER (packer), DRY_RUN (1: steps 1 and 2 only, the builds are printed)
#
# Tested with Packer 1.16.0 (test/e2e TestCIBuildScript, with DRY_RUN=1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PACKER:=packer}" "${APP_NAME:=ponyfoo}" "${ENVIRONMENT:=production}" "${REGION:=us-east-1}"
: "${NODE_VERSION:=22}" "${NODE_MIRROR:=https://nodejs.org/dist}" "${DRY_RUN:=}"
common=(-var "app_name=$APP_NAME" -var "region=$REGION")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

build() {
  if [ -n "$DRY_RUN" ]; then
    echo "ci-build: would run: $PACKER build $*"
  else
    "$PACKER" build "$@"
  fi
}

# 1. The fingerprint.
if ! "$PACKER" build -only=fingerprint.null.fingerprint "${common[@]}" \
  -var "node_version=$NODE_VERSION" -var "node_mirror=$NODE_MIRROR" "$here/primal.pkr.hcl" >"$log" 2>&1; then
  cat "$log" >&2
  echo "ci-build: computing the fingerprint failed" >&2
  exit 1
fi
line=$(grep -o 'node-fingerprint: fingerprint=[0-9a-f]\{64\} node_version=[0-9.]*' "$log" | head -n1)
fingerprint=${line#*fingerprint=}
fingerprint=${fingerprint%% *}
node_version=${line##*node_version=}
if [ -z "$line" ] || [ -z "$node_version" ]; then
  cat "$log" >&2
  echo "ci-build: no fingerprint in the output above" >&2
  exit 1
fi
echo "ci-build: the app's primal fingerprint is $fingerprint (Node.js $node_version)"

# 2. The look-up.
carnivore=("${common[@]}" -var "environment=$ENVIRONMENT" -var "fingerprint=$fingerprint" "$here/carnivore.pkr.hcl")
if "$PACKER" validate -evaluate-datasources "${carnivore[@]}" >"$log" 2>&1; then
  echo "ci-build: a primal image with that fingerprint exists: no primal build"
elif grep -q 'no available image with fingerprint' "$log"; then
  grep -o 'the newest image without that filter is.*' "$log" | head -n1 || true
  echo "ci-build: no primal image with that fingerprint: building one"
  # 3. The primal image, with the very release the fingerprint names.
  build "${common[@]}" -only=amazon-ebs.primal -var "node_version=$node_version" -var "node_mirror=$NODE_MIRROR" "$here/primal.pkr.hcl"
else
  cat "$log" >&2
  echo "ci-build: the look-up failed (see above): not building anything" >&2
  exit 1
fi

# 4. The release image on it.
build "${carnivore[@]}"
