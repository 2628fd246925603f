#!/bin/bash
# demo.sh - the main job, on a fresh machine with no cloud account: boot a
# disposable sandbox Debian (systemd as PID 1, in its own network namespace),
# run the example node-primal template against it with the plugin that
# `make dev` installed, show nginx answering on the target, and destroy the
# target (also on failure). Run it through `make demo` (as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PACKER_BIN:=$PWD/.tools/bin/packer}"
export CHECKPOINT_DISABLE=1 PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$PWD/.packer.d/plugins}

t0=$SECONDS
say() { printf '\n==> [%4ss] %s\n' "$((SECONDS - t0))" "$*"; }

say "creating a sandbox Debian target"
info=$(test/sandbox/target.sh create)
eval "$info"
trap 'say "destroying the target"; test/sandbox/target.sh destroy "$SANDBOX_NAME"' EXIT
t_create=$((SECONDS - t0))

say "packer build example/sandbox/primal.pkr.hcl against $SANDBOX_IP as admin"
t1=$SECONDS
"$PACKER_BIN" build -var "host=$SANDBOX_IP" -var ssh_username=admin \
  -var "ssh_private_key_file=$SANDBOX_SSH_KEY" example/sandbox/primal.pkr.hcl
t_build=$((SECONDS - t1))

say "on the target"
test/sandbox/target.sh ssh "$SANDBOX_NAME" '
  echo "nginx:  $(systemctl is-enabled nginx) and $(systemctl is-active nginx)"
  echo "sysctl: net.ipv4.tcp_slow_start_after_idle = $(sysctl -n net.ipv4.tcp_slow_start_after_idle) (persisted in /etc/sysctl.d/60-node-primal.conf)"
  echo "logs:   $(stat -c "%n owned by %U" /var/log/nginx)"
  echo "curl http://127.0.0.1/ -> $(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1/)"'

say "done: target up in ${t_create}s, packer build ${t_build}s"
