# System-wide nvm: NVM_DIR outside any home, so services and every user can
# use the node it installs through the links in {{.BinDir}}.
export NVM_DIR={{q .Dir}}
export NVM_NODEJS_ORG_MIRROR={{q .Mirror}}
# nvm.sh reads unset variables; it cannot run under set -u.
set +u
# `nvm --version` prints the release without its "v" (0.40.1 for v0.40.1).
if [ -s "$NVM_DIR/nvm.sh" ] && [ "v$(. "$NVM_DIR/nvm.sh" && nvm --version)" = {{q .NvmVersion}} ]; then
  echo "nvm "{{q .NvmVersion}}" is already installed in $NVM_DIR"
else
  mkdir -p "$NVM_DIR"
  # Downloaded whole before it runs: a failed or cut download fails the
  # step here, instead of feeding bash half a script.
  installer=$(mktemp)
  trap 'rm -f "$installer"' EXIT
  {{.Fetch}}  PROFILE=/dev/null bash "$installer"
fi
. "$NVM_DIR/nvm.sh"
nvm install {{q .Spec}}
nvm alias default {{q .Spec}}
bin=$(dirname "$(nvm which default)")
for cmd in node npm npx corepack; do
  if [ -e "$bin/$cmd" ]; then
    ln -sfn "$bin/$cmd" {{q .BinDir}}"/$cmd"
  fi
done
echo "node $("$node_bin" --version), npm $({{q .BinDir}}/npm --version)"
