#!/bin/bash
# demo-sandbox.sh - the quick demo, on a fresh machine with no cloud account: boot a
# disposable sandbox Debian (systemd as PID 1, in its own network namespace),
# serve a Node.js mirror built from the npm registry, run the example
# node-primal template against the target with the plugin that `make dev`
# installed, show the result on the target, and destroy the target (also on
# failure). Run it through `make demo-sandbox` (as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PACKER_BIN:=$PWD/.tools/bin/packer}"
export CHECKPOINT_DISABLE=1 PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$PWD/.packer.d/plugins}
NODE_VERSION=${NODE_VERSION:-22.23.3}

t0=$SECONDS
say() { printf '\n==> [%4ss] %s\n' "$((SECONDS - t0))" "$*"; }
mirror_pid=
cleanup() {
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null && wait "$mirror_pid" 2>/dev/null
  if [ -n "${SANDBOX_NAME:-}" ]; then say "destroying the target"; test/sandbox/target.sh destroy "$SANDBOX_NAME"; fi
}
trap cleanup EXIT

say "creating a sandbox Debian target"
eval "$(test/sandbox/target.sh create)"
t_create=$((SECONDS - t0))

say "building and serving a Node.js $NODE_VERSION mirror on $SANDBOX_HOST_IP"
go build -o .tools/bin/nodemirror ./test/nodemirror/cmd/nodemirror
mkdir -p .tools/run
# It signs SHASUMS256.txt with a key of its own, as a mirror that re-signs
# releases would: node-primal trusts that key through node_release_keys.
rm -f .tools/run/mirror.url .tools/run/mirror-key.asc
.tools/bin/nodemirror -listen "$SANDBOX_HOST_IP:0" -key .tools/run/mirror-key.asc "$NODE_VERSION" > .tools/run/mirror.url 2> .tools/run/mirror.log &
mirror_pid=$!
for _ in $(seq 600); do [ -s .tools/run/mirror.url ] && break; kill -0 "$mirror_pid" || { cat .tools/run/mirror.log; exit 1; }; sleep 0.5; done
mirror=$(cat .tools/run/mirror.url)

cas=$(printf '"%s",' /usr/local/share/ca-certificates/*.crt 2>/dev/null | sed 's/,$//')
[ "$cas" = '"/usr/local/share/ca-certificates/*.crt"' ] && cas=

say "packer build example/sandbox/primal.pkr.hcl against $SANDBOX_IP as admin"
t1=$SECONDS
"$PACKER_BIN" build -var "host=$SANDBOX_IP" -var ssh_username=admin \
  -var "ssh_private_key_file=$SANDBOX_SSH_KEY" \
  -var "https_proxy=$SANDBOX_PROXY" -var "no_proxy=$SANDBOX_HOST_IP" \
  -var "node_mirror=$mirror" -var "node_version=$NODE_VERSION" \
  -var "node_release_keys=[\"$PWD/.tools/run/mirror-key.asc\"]" \
  -var "ca_certificates=[$cas]" example/sandbox/primal.pkr.hcl
t_build=$((SECONDS - t1))

say "on the target"
test/sandbox/target.sh ssh "$SANDBOX_NAME" '
  echo "nginx:    $(systemctl is-enabled nginx) and $(systemctl is-active nginx)"
  echo "node:     $(env -i /bin/sh -c "node --version") for a plain non-login shell"
  echo "sysctl:   tcp_slow_start_after_idle=$(sysctl -n net.ipv4.tcp_slow_start_after_idle) ip_forward=$(sysctl -n net.ipv4.ip_forward) (in /etc/sysctl.d/60-node-primal.conf)"
  echo "redirect: $(nft list table ip node_primal | grep -m1 redirect | sed "s/^[[:space:]]*//") (nftables.service $(systemctl is-enabled nftables))"
  echo "precache: $(ls /home/node/app/precache/node_modules | wc -l) packages, manifest:"
  sed "s/^/          /" /etc/node-primal/manifest.json
  systemd-run --quiet --unit=demo-app --uid=node /usr/local/bin/node -e "require(\"http\").createServer((q, s) => s.end(\"hello from node on 8080, fetched through port 80\\n\")).listen(8080)"
  sleep 1
  echo "curl http://127.0.0.1:80/ -> $(curl -s http://127.0.0.1:80/)"
  systemctl stop demo-app'

say "done: target up in ${t_create}s, packer build ${t_build}s"
