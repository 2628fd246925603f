#!/bin/bash
# demo-vm.sh - the main job, on a fresh machine with no cloud account: the
# whole immutable pipeline as real VM images, with the plugin and the QEMU
# builder that `make dev qemu-plugin` installed.
#
#   1. a Debian trixie (13) base qcow2, built from the host's Debian mirror
#      (test/vm/make-base-image.sh; cached, reused while its recipe holds)
#   2. a local Node.js mirror on 127.0.0.1 (the guest reaches it as 10.0.2.2)
#   3. primal.qcow2: packer build example/local/primal.pkr.hcl (qemu builder,
#      node-primal, example/app's dependencies precached), kept under its
#      fingerprint (example/local/fingerprint.pkr.hcl, node-fingerprint): a
#      later run with the same app, Node.js and packages reuses it
#   4. carnivore.qcow2 on it: packer build example/local/carnivore.pkr.hcl
#      (node-carnivore with example/app, health-gated)
#   5. a fresh boot of carnivore.qcow2 (writes go to a throwaway overlay), its
#      port 80 forwarded to 127.0.0.1, and the app's answer fetched from the
#      host through it
#
# Then a timing summary. QEMU emulates the CPU where KVM is unusable (TCG):
# on 2 cores a run took 637 s with the base image and tools already built
# (primal build 499 s, carnivore build 83 s, boot until the app answers
# 46 s); a first run also builds those. Images go to $DEMO_DIR (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/demo), replaced by each
# run; every forward listens on 127.0.0.1 only. On exit, also on failure or
# ^C, it stops the processes it started (the mirror, the VM), by their PIDs.
# Run it through `make demo` (as root: the base image needs loop devices).
#
# Env: DEMO_DIR, NODE_VERSION (default 22.23.3), VM_ACCEL (tcg|kvm),
# VM_CACHE (the base image's cache), PACKER_BIN, PACKER_PLUGIN_PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${PACKER_BIN:=$PWD/.tools/bin/packer}"
export CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1
export PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$PWD/.packer.d/plugins}
NODE_VERSION=${NODE_VERSION:-22.23.3}
DEMO_DIR=${DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/demo}
export PACKER_CACHE_DIR=$DEMO_DIR/packer_cache

t0=$SECONDS
say() { printf '\n==> [%4ss] %s\n' "$((SECONDS - t0))" "$*"; }
die() { printf '\n==> [%4ss] FAILED: %s\n' "$((SECONDS - t0))" "$*" >&2; exit 1; }
timings=()
phase_start=$SECONDS
phase_done() { timings+=("$(printf '  %-40s %5ss' "$1" "$((SECONDS - phase_start))")"); phase_start=$SECONDS; }

[ "$(id -u)" = 0 ] || die "run as root (the base image needs loop devices, mount, chroot)"
[ -x "$PACKER_BIN" ] || die "no Packer at $PACKER_BIN: run through \`make demo\`"

mirror_pid=
vm_pid=
cleanup() {
  local rc=$?
  if [ -n "$vm_pid" ] && kill -0 "$vm_pid" 2>/dev/null; then
    kill "$vm_pid" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$vm_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$vm_pid" 2>/dev/null && kill -9 "$vm_pid" 2>/dev/null
    wait "$vm_pid" 2>/dev/null || true
    echo "stopped the VM (qemu pid $vm_pid)"
  fi
  if [ -n "$mirror_pid" ] && kill -0 "$mirror_pid" 2>/dev/null; then
    kill "$mirror_pid" 2>/dev/null
    wait "$mirror_pid" 2>/dev/null || true
    echo "stopped the Node.js mirror (pid $mirror_pid)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
  # kvm_pvm's guests fail (MSR errors, emulation failures): emulate instead.
  if [ -e /sys/module/kvm_pvm ] || ! [ -w /dev/kvm ]; then accel=tcg; else accel=kvm; fi
fi

mkdir -p "$DEMO_DIR"
log=$DEMO_DIR/logs
# Primal images are kept under their fingerprint (step 3); the rest is redone.
rm -rf "$log" "$DEMO_DIR/carnivore"
[ -f "$DEMO_DIR/primal/primal.qcow2" ] && rm -rf "$DEMO_DIR/primal" # an older demo's layout
mkdir -p "$log"

say "1/5 Debian base image (built once from the host's Debian mirror, then reused)"
base_env=$(bash test/vm/make-base-image.sh) || die "test/vm/make-base-image.sh"
eval "$base_env"
echo "base image: $VM_IMAGE"
phase_done "base image"

say "2/5 Node.js $NODE_VERSION mirror on 127.0.0.1 (the guest's 10.0.2.2)"
go build -o .tools/bin/nodemirror ./test/nodemirror/cmd/nodemirror
# SHASUMS256.txt signed with a key of its own, trusted through node_release_keys.
.tools/bin/nodemirror -listen 127.0.0.1:0 -key "$log/mirror-key.asc" "$NODE_VERSION" >"$log/mirror.url" 2>"$log/mirror.log" &
mirror_pid=$!
for _ in $(seq 1200); do
  [ -s "$log/mirror.url" ] && break
  kill -0 "$mirror_pid" 2>/dev/null || { cat "$log/mirror.log"; die "the mirror exited"; }
  sleep 0.5
done
[ -s "$log/mirror.url" ] || die "the mirror did not start in 10 minutes"
mirror_url=$(cat "$log/mirror.url")
guest_mirror=${mirror_url/127.0.0.1/10.0.2.2}
echo "mirror: $mirror_url (pid $mirror_pid), for the guest $guest_mirror"
phase_done "Node.js mirror"

# The network here may inspect TLS, like many corporate ones: the image
# trusts the host's extra CA certificates (npm reaches the registry).
cas=
for f in /usr/local/share/ca-certificates/*.crt; do [ -e "$f" ] && cas+="${cas:+,}\"$f\""; done

# The primal image's fingerprint, computed on this host by node-fingerprint
# from the settings node-primal gets (the mirror as the host reaches it). A
# primal image with that fingerprint on the same base image is kept and
# reused; any change to what it would hold (the lockfile, the Node.js
# release, the packages, node-primal's recipe) builds a new one.
fp_line=$("$PACKER_BIN" build -var "node_version=$NODE_VERSION" -var "node_mirror=$mirror_url" \
  -var "package_json=$PWD/example/app/package.json" example/local/fingerprint.pkr.hcl 2>&1 |
  tee "$log/fingerprint.log" | grep -o 'node-fingerprint: fingerprint=[0-9a-f]\{64\}' | head -n1) ||
  { cat "$log/fingerprint.log"; die "computing the primal fingerprint (example/local/fingerprint.pkr.hcl)"; }
fingerprint=${fp_line##*=}
primal_dir=$DEMO_DIR/primal/$fingerprint
echo "primal fingerprint: $fingerprint"

if [ -z "${DEMO_REBUILD_PRIMAL:-}" ] && [ -f "$primal_dir/primal.qcow2" ] && [ "$(cat "$primal_dir/base" 2>/dev/null)" = "$VM_IMAGE" ]; then
  say "3/5 primal image with this fingerprint kept from an earlier run: $primal_dir (DEMO_REBUILD_PRIMAL=1 rebuilds it)"
  phase_done "primal image (kept: same fingerprint)"
else
  say "3/5 packer build example/local/primal.pkr.hcl (qemu $accel, node-primal) -> $primal_dir"
  rm -rf "$primal_dir"
  "$PACKER_BIN" build \
    -var "base_image=$VM_IMAGE" -var "ssh_private_key_file=$VM_SSH_KEY" -var "ssh_username=$VM_SSH_USER" \
    -var "output_directory=$primal_dir" -var "accelerator=$accel" \
    -var "serial_log=$log/primal-build-serial.log" \
    -var "node_version=$NODE_VERSION" -var "node_mirror=$guest_mirror" \
    -var "node_release_keys=[\"$log/mirror-key.asc\"]" \
    -var "ca_certificates=[$cas]" -var "package_json=$PWD/example/app/package.json" \
    example/local/primal.pkr.hcl 2>&1 | tee "$log/primal-build.log" || die "primal build (VM console: $log/primal-build-serial.log)"
  grep -q "fingerprint: $fingerprint " "$log/primal-build.log" ||
    die "node-primal recorded another fingerprint than node-fingerprint computed ($fingerprint): see $log/primal-build.log"
  echo "$VM_IMAGE" >"$primal_dir/base" # marks it complete, on this base
  # Only the newest primal image is kept.
  for d in "$DEMO_DIR"/primal/*/; do
    [ "${d%/}" = "$primal_dir" ] || rm -rf "${d%/}"
  done
  phase_done "primal image (packer build)"
fi

say "4/5 packer build example/local/carnivore.pkr.hcl (qemu $accel, node-carnivore, example/app) -> $DEMO_DIR/carnivore"
if ! "$PACKER_BIN" build \
  -var "primal_image=$primal_dir/primal.qcow2" \
  -var "ssh_private_key_file=$VM_SSH_KEY" -var "ssh_username=$VM_SSH_USER" \
  -var "output_directory=$DEMO_DIR/carnivore" -var "accelerator=$accel" \
  -var "serial_log=$log/carnivore-build-serial.log" \
  example/local/carnivore.pkr.hcl 2>&1 | tee "$log/carnivore-build.log"; then
  die "carnivore build (VM console: $log/carnivore-build-serial.log)"
fi
phase_done "carnivore image (packer build)"

# Two free ports on 127.0.0.1 (nothing answers there now).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
ssh_port=$(free_port)
http_port=$(free_port)
[ "$ssh_port" != "$http_port" ] || http_port=$(free_port)

say "5/5 fresh boot of carnivore.qcow2 (new qemu, throwaway overlay), guest port 80 -> 127.0.0.1:$http_port"
qemu-system-x86_64 -name demo-carnivore -machine "pc,accel=$accel" -cpu max -smp 2 -m 2048 \
  -drive "file=$DEMO_DIR/carnivore/carnivore.qcow2,if=virtio,format=qcow2,snapshot=on" \
  -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$ssh_port-:22,hostfwd=tcp:127.0.0.1:$http_port-:80" \
  -device virtio-net-pci,netdev=net0 -device virtio-rng-pci \
  -display none -serial "file:$log/boot-serial.log" -monitor none -parallel none -no-user-config \
  >"$log/qemu.log" 2>&1 &
vm_pid=$!
echo "qemu pid $vm_pid"
url=http://127.0.0.1:$http_port/
answer=
for _ in $(seq 600); do
  kill -0 "$vm_pid" 2>/dev/null || { cat "$log/qemu.log"; die "qemu exited"; }
  if answer=$(curl -sf --max-time 5 "$url"); then break; fi
  answer=
  sleep 1
done
[ -n "$answer" ] || { tail -30 "$log/boot-serial.log"; die "no answer on $url within 10 minutes of boot"; }
echo "the app answered $((SECONDS - phase_start))s after qemu started"
phase_done "fresh boot until the app answers"

ssh_guest() {
  ssh -F /dev/null -i "$VM_SSH_KEY" -p "$ssh_port" -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR \
    "$VM_SSH_USER@127.0.0.1" -- "$@"
}
echo
echo "from the host, through the guest's port 80 (redirect -> nginx -> app):"
echo "  curl $url"
echo "    -> $answer"
echo "  curl ${url}hello.txt"
echo "    -> $(curl -s --max-time 10 "${url}hello.txt")  (example/app/.bin/public/hello.txt)"
echo "  curl ${url}healthz"
echo "    -> $(curl -s --max-time 10 "${url}healthz")"
echo
echo "in the guest (the image just booted):"
# shellcheck disable=SC2016 # expanded in the guest
ssh_guest '
  echo "  service example-production: $(systemctl is-enabled example-production), $(systemctl is-active example-production) since boot ($(systemctl show -p User --value example-production) user)"
  echo "  nginx:     $(systemctl is-enabled nginx), $(systemctl is-active nginx)"
  echo "  .env.json: $(stat -c "mode %a, owner %U" /home/node/app/server/.env.json)"
  echo "  release:   $(readlink /home/node/app/server)"
  echo "  node:      $(env -i /bin/sh -c "node --version")"' || echo "  (ssh to the guest failed)"
echo
echo "the carnivore build said:"
grep -m1 -o 'precache hit:[^;]*' "$log/carnivore-build.log" | sed 's/^/  /' || echo "  (no precache hit)"
phase_done "checks"

say "done in $((SECONDS - t0))s"
printf '%s\n' "${timings[@]}"
du_primal=$(du -m "$primal_dir/primal.qcow2" | cut -f1)
du_carnivore=$(du -m "$DEMO_DIR/carnivore/carnivore.qcow2" | cut -f1)
echo "images: $primal_dir/primal.qcow2 (${du_primal} MiB over the base), $DEMO_DIR/carnivore/carnivore.qcow2 (${du_carnivore} MiB over primal)"
echo "boot it yourself: qemu-system-x86_64 -machine accel=$accel -cpu max -m 2048 -snapshot -drive file=$DEMO_DIR/carnivore/carnivore.qcow2,if=virtio -nic user,hostfwd=tcp:127.0.0.1:8080-:80 -display none"
