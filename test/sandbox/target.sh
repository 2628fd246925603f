#!/bin/bash
# target.sh - disposable Debian bookworm sandbox targets for end-to-end tests.
#
# A target is a Debian bookworm root filesystem booted with systemd as PID 1
# (systemd-nspawn -b) inside a network namespace made for it, reachable from
# the host over SSH. Packer's built-in `null` builder provisions it like a
# freshly booted cloud instance. Go tests use it through the wrapper in
# sandbox.go (package sandbox); this script can also be used by hand.
#
# Usage (as root):
#   target.sh create  [NAME]      boot a target; prints its info (below) on stdout
#   target.sh destroy NAME        stop it and remove everything create made
#   target.sh info    NAME        print KEY=VALUE lines (eval-able):
#                                 SANDBOX_NAME, SANDBOX_IP, SANDBOX_HOST_IP,
#                                 SANDBOX_PROXY, SANDBOX_SSH_KEY,
#                                 SANDBOX_KNOWN_HOSTS, SANDBOX_ADMIN_USER,
#                                 SANDBOX_NETNS, SANDBOX_VETH, SANDBOX_ROOTFS,
#                                 SANDBOX_STATE_DIR
#   target.sh ssh     NAME [CMD]  ssh into the target (as root, or as
#                                 $SANDBOX_SSH_USER, e.g. admin)
#   target.sh list                names of the targets that exist
#
# Environment:
#   SANDBOX_CACHE  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/sandbox):
#                  rootfs tarball, unpacked systemd-nspawn, egressproxy binary
#   SANDBOX_STATE  per-target state dirs (default $SANDBOX_CACHE/targets)
#
# What a target is made of:
#   rootfs   `mmdebstrap --variant=apt --format=tar` of bookworm with the host's
#            extra CA certificates trusted, built once and cached (tmp + mv);
#            unpacked per target onto a tmpfs in its state dir. Every target
#            gets a fresh SSH host key, client key and machine-id; root and
#            `admin` (passwordless sudo, like a cloud image's default user)
#            log in with the client key.
#   network  slot N (1..250, picked automatically, so targets run side by side):
#            netns pnsbx-N, veth pnsbxN (host, 10.203.N.1/24) <-> eth0
#            (target, 10.203.N.2/24). The target has no route out.
#   egress   only through test/egressproxy, listening on 10.203.N.1:3128 and
#            allowing only the host's own Debian mirror host and npm registry
#            host, both read from the host's configuration. apt uses it through
#            Acquire::http::Proxy, everything else through http_proxy/https_proxy
#            in the target's /etc/environment.
#   TLS      node ignores the system store: NODE_EXTRA_CA_CERTS and
#            npm_config_cafile in /etc/environment point at it.
#
# The host's firewall and sysctls are never changed: the target's iptables and
# net.* sysctls live in its own netns. destroy kills only the processes that
# create started, by PID (checked against their start time), waits for them,
# deletes the netns and veth, unmounts the rootfs tmpfs, checks that nothing
# is mounted under the state dir and removes it. A failed create destroys
# what it made.
set -euo pipefail
shopt -s nullglob

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SANDBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/sandbox}
STATE=${SANDBOX_STATE:-$CACHE/targets}
SLOTS=/run/packer-plugin-node-sandbox # slot locks: global like netns and veth names
# The Debian release of the targets: bookworm unless SANDBOX_SUITE names
# another on the host's mirror (trixie).
SUITE=${SANDBOX_SUITE:-bookworm}
[[ $SUITE =~ ^[a-z]+$ ]] || { echo "target.sh: SANDBOX_SUITE must be a Debian codename, got '$SUITE'" >&2; exit 2; }
# No libpam-systemd: with it every SSH login starts a `systemd --user` manager,
# whose stop hangs at poweroff under nspawn on a cgroup v1/hybrid host (seen
# here: 20 s and more, intermittently). Provisioners do not need user sessions.
PACKAGES=(systemd-sysv dbus openssh-server sudo ca-certificates curl
  iproute2 iptables procps xz-utils netbase)
PROXY_PORT=3128
ADMIN_USER="admin"
SSH_OPTS=(-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes
  -o ConnectTimeout=5 -o LogLevel=ERROR)

log() { echo "[target.sh $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
since() { # seconds since a now() value, with one decimal
  local us=$(($(now) - $1))
  printf '%d.%ds' $((us / 1000000)) $((us % 1000000 / 100000))
}

# ---------------------------------------------------------------- host tools

apt_install() { # PKG...: install host packages, refreshing the lists once if needed
  log "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}

need() { # CMD PKG
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

host_tools() {
  need ip iproute2
  need ssh openssh-client
  need ssh-keygen openssh-client
  need flock util-linux
  command -v go >/dev/null 2>&1 || die "go is needed to build test/egressproxy"
}

# ---------------------------------------------------- registries of the host

url_host() { # URL -> its host name
  sed -E 's#^[A-Za-z][A-Za-z0-9+.-]*://([^@/]*@)?(\[[^]]*\]|[^/:]+).*#\2#' <<<"$1"
}

host_mirror() { # the host's Debian mirror: first URIs: (deb822) or deb line
  local m=""
  [ -r /etc/apt/sources.list.d/debian.sources ] &&
    m=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  [ -z "$m" ] && [ -r /etc/apt/sources.list ] &&
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  [ -n "$m" ] || die "cannot find the Debian mirror in the host's apt sources"
  echo "${m%/}"
}

allow_hosts() { # the proxy's allowlist: mirror host, npm registry host
  local hosts reg
  hosts=$(url_host "$(host_mirror)")
  reg=$(npm config get registry 2>/dev/null || true)
  if [ -n "$reg" ]; then
    hosts="$hosts,$(url_host "$reg")"
  else
    log "warning: no npm on the host; the target will reach the Debian mirror only"
  fi
  echo "$hosts"
}

# ------------------------------------------------------------------- caches

host_cas() { # the host's extra CA certificates (e.g. of a TLS-inspecting egress)
  find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | sort
}

rootfs_tar() { # path of the cached rootfs tarball for what goes into it
  local key
  key=$({
    printf '%s\n' "$SUITE" "$(host_mirror)" "${PACKAGES[@]}"
    host_cas | xargs -r cat
  } | sha256sum | cut -c1-12)
  echo "$CACHE/rootfs/$SUITE-$key.tar"
}

ensure_rootfs() { # build the rootfs tarball once (atomically), reuse it afterwards
  local tar mirror t0 include
  tar=$(rootfs_tar)
  mirror=$(host_mirror)
  mkdir -p "$CACHE/rootfs"
  (
    flock 9
    [ -s "$tar" ] && exit 0
    need mmdebstrap mmdebstrap
    t0=$(now)
    include=$(
      IFS=,
      echo "${PACKAGES[*]}"
    )
    local sources=("deb $mirror $SUITE main" "deb $mirror $SUITE-updates main")
    # Security updates from the same host (only where the mirror follows the usual layout).
    [[ $mirror == */debian ]] && sources+=("deb ${mirror%/debian}/debian-security $SUITE-security main")
    # The host's extra CAs are trusted in the target's system store.
    local hooks=()
    # shellcheck disable=SC2016 # $1 is the hook's argument: the rootfs being built
    [ -n "$(host_cas)" ] && hooks=(
      --customize-hook='cp -a /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"'
      --customize-hook='chroot "$1" update-ca-certificates'
    )
    log "building the $SUITE rootfs (mmdebstrap; log: $CACHE/rootfs/build.log)"
    if ! mmdebstrap --variant=apt --format=tar --include="$include" "${hooks[@]}" "$SUITE" "$tar.tmp" \
      "${sources[@]}" >"$CACHE/rootfs/build.log" 2>&1; then
      tail -n 30 "$CACHE/rootfs/build.log" >&2
      rm -f "$tar.tmp"
      die "mmdebstrap failed"
    fi
    mv "$tar.tmp" "$tar"
    # Drop tarballs of earlier package lists or CAs.
    find "$CACHE/rootfs" -maxdepth 1 -name "$SUITE-*.tar" ! -path "$tar" -delete
    log "rootfs built in $(since "$t0") ($(du -h "$tar" | cut -f1)): $tar"
  ) 9>"$CACHE/rootfs/.lock"
}

NSPAWN=()
ensure_nspawn() { # the host's systemd-nspawn, or one unpacked from Debian's .debs
  if command -v systemd-nspawn >/dev/null 2>&1; then
    NSPAWN=(systemd-nspawn)
    return
  fi
  local dir=$CACHE/nspawn
  mkdir -p "$CACHE"
  (
    flock 9
    [ -x "$dir/root/usr/bin/systemd-nspawn" ] && exit 0
    log "unpacking systemd-nspawn from systemd-container + libsystemd-shared (not installed)"
    local tmp d
    tmp=$(mktemp -d "$CACHE/nspawn.tmp.XXXXXX")
    chmod 755 "$tmp" # readable by apt's _apt download user
    (cd "$tmp" && apt-get download -q systemd-container libsystemd-shared >/dev/null 2>&1) ||
      { apt-get update -q >/dev/null 2>&1 && (cd "$tmp" && apt-get download -q systemd-container libsystemd-shared >/dev/null); } ||
      { rm -rf "$tmp"; die "apt-get download systemd-container libsystemd-shared failed"; }
    for d in "$tmp"/*.deb; do dpkg -x "$d" "$tmp/root"; done
    rm -f "$tmp"/*.deb
    rm -rf "$dir"
    mv "$tmp" "$dir"
  ) 9>"$CACHE/.nspawn.lock"
  local libdir=("$dir"/root/usr/lib/*/systemd)
  NSPAWN=(env "LD_LIBRARY_PATH=${libdir[0]}" "$dir/root/usr/bin/systemd-nspawn")
}

PROXY_BIN=$CACHE/bin/egressproxy
ensure_proxy() { # build test/egressproxy from this checkout when its source changed
  local src=$HERE/../egressproxy
  mkdir -p "$CACHE/bin"
  (
    flock 9
    [ -x "$PROXY_BIN" ] && [ -z "$(find "$src" -name '*.go' -newer "$PROXY_BIN")" ] && exit 0
    cd "$src"
    go build -o "$PROXY_BIN.tmp" . || die "go build test/egressproxy failed"
    mv "$PROXY_BIN.tmp" "$PROXY_BIN" # a running proxy keeps its old inode
  ) 9>"$CACHE/bin/.lock"
}

# ---------------------------------------------------------------- processes
# A pid file holds "PID STARTTIME"; the start time (field 22 of /proc/PID/stat)
# tells our process apart from a later one that got the same PID.

proc_field() { # PID FIELD(3=state, 22=starttime) -> value; fails if no such process
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) } # drop "PID (comm) "; comm may contain spaces and parens
  read -r -a f <<<"$s"
  echo "${f[$(($2 - 3))]}"
}

record_pid() { # FILE PID
  local st
  st=$(proc_field "$2" 22) || return 1
  echo "$2 $st" >"$1"
}

alive() { # PIDFILE: is the recorded process still running? (zombies count as dead)
  local pid st state
  [ -s "$1" ] || return 1
  read -r pid st <"$1"
  [ "$(proc_field "$pid" 22 2>/dev/null)" = "$st" ] || return 1
  state=$(proc_field "$pid" 3) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

signal() { # PIDFILE SIGNAL: signal the recorded process if it is still ours
  alive "$1" || return 0
  kill "-$2" "$(cut -d' ' -f1 "$1")" 2>/dev/null || true
}

wait_dead() { # PIDFILE SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    alive "$1" || return 0
    sleep 0.1
  done
  ! alive "$1"
}

stop() { # PIDFILE SECONDS: SIGTERM, wait, SIGKILL, wait
  [ -s "$1" ] || return 0
  signal "$1" TERM
  wait_dead "$1" "$2" && return 0
  log "$(basename "$1" .pid) did not stop in $2s; SIGKILL"
  signal "$1" KILL
  wait_dead "$1" 5
}

start_bg() { # PIDFILE LOGFILE CMD...: start CMD in its own session, record its PID
  local pidfile=$1 logfile=$2 i
  shift 2
  # sh writes its own PID and then execs CMD, so the PID is CMD's whether or
  # not setsid had to fork. No descriptor but the log is inherited, so callers
  # that read our stdout/stderr (the Go wrapper) see EOF when we exit.
  rm -f "$pidfile.tmp"
  # shellcheck disable=SC2016 # expanded by sh, not here
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile.tmp" "$@" </dev/null >>"$logfile" 2>&1 &
  for ((i = 0; i < 50; i++)); do [ -s "$pidfile.tmp" ] && break; sleep 0.02; done
  record_pid "$pidfile" "$(cat "$pidfile.tmp")" || die "$* exited at once (see $logfile)"
  rm -f "$pidfile.tmp"
}

# ------------------------------------------------------------------- target

set_target() { # NAME: the target's paths; its slot variables if allocated
  NAME=$1
  [[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad target name '$NAME' (a-z0-9-, at most 31)"
  TD=$STATE/$NAME
  ROOT=$TD/root
  N=""
  [ -f "$TD/slot" ] && N=$(cat "$TD/slot")
  if [ -n "$N" ]; then
    NS=pnsbx-$N
    VETH=pnsbx$N
    HOST_IP=10.203.$N.1
    IP=10.203.$N.2
  fi
}

alloc_slot() { # pick a free N: no slot lock, no netns, veth or address of that N
  mkdir -p "$SLOTS"
  N=$(
    exec 9>"$SLOTS/lock"
    flock 9
    addrs=$(ip -4 -o addr show)
    for ((n = 1; n <= 250; n++)); do
      s=$SLOTS/slot-$n
      # A slot whose target state dir is gone is stale (e.g. the dir was deleted by hand).
      if [ -L "$s" ] && [ ! -e "$s" ]; then rm -f "$s"; fi
      [ -L "$s" ] && continue
      [ -e "/run/netns/pnsbx-$n" ] && continue
      ip link show "pnsbx$n" >/dev/null 2>&1 && continue
      [[ $addrs == *" 10.203.$n."* ]] && continue
      ln -s "$TD" "$s" && echo "$n" && exit 0
    done
    exit 1
  ) || die "no free slot (1..250)"
  echo "$N" >"$TD/slot"
  set_target "$NAME"
}

configure_rootfs() {
  local p=http://$HOST_IP:$PROXY_PORT
  # Identity: hostname, machine-id, a fresh SSH host key (known to our client).
  echo "$NAME" >"$ROOT/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' "$IP" "$NAME" >"$ROOT/etc/hosts"
  tr -d - </proc/sys/kernel/random/uuid >"$ROOT/etc/machine-id"
  rm -f "$ROOT"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$NAME" -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
  echo "$IP $(cut -d' ' -f1,2 "$ROOT/etc/ssh/ssh_host_ed25519_key.pub")" >"$TD/known_hosts"
  printf '%s\n' "HostKey /etc/ssh/ssh_host_ed25519_key" "PermitRootLogin prohibit-password" \
    "PasswordAuthentication no" >"$ROOT/etc/ssh/sshd_config.d/sandbox.conf"

  # Logins: root and the admin user (passwordless sudo), same key.
  ssh-keygen -q -t ed25519 -N '' -C "sandbox-$NAME" -f "$TD/id_ed25519"
  install -d -m 700 "$ROOT/root/.ssh"
  install -m 600 "$TD/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
  chroot "$ROOT" useradd --create-home --shell /bin/bash --groups sudo "$ADMIN_USER"
  install -d -m 700 "$ROOT/home/$ADMIN_USER/.ssh"
  install -m 600 "$TD/id_ed25519.pub" "$ROOT/home/$ADMIN_USER/.ssh/authorized_keys"
  chroot "$ROOT" chown -R "$ADMIN_USER:$ADMIN_USER" "/home/$ADMIN_USER/.ssh"
  echo "$ADMIN_USER ALL=(ALL) NOPASSWD:ALL" >"$ROOT/etc/sudoers.d/90-$ADMIN_USER"
  chmod 440 "$ROOT/etc/sudoers.d/90-$ADMIN_USER"

  # Name resolution happens in the proxy on the host; the target has no DNS.
  rm -f "$ROOT/etc/resolv.conf"
  : >"$ROOT/etc/resolv.conf"

  # Egress through the proxy. /etc/environment is read by pam_env for every
  # SSH session (so every provisioner) and by sudo.
  printf 'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' "$p" "$p" \
    >"$ROOT/etc/apt/apt.conf.d/80sandbox-proxy"
  cat >"$ROOT/etc/environment" <<EOF
http_proxy=$p
https_proxy=$p
HTTP_PROXY=$p
HTTPS_PROXY=$p
no_proxy=localhost,127.0.0.1,::1,$IP
NO_PROXY=localhost,127.0.0.1,::1,$IP
NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
EOF
}

setup_net() {
  ip netns add "$NS"
  ip link add "$VETH" type veth peer name eth0 netns "$NS"
  ip addr add "$HOST_IP/24" dev "$VETH"
  ip link set "$VETH" up
  ip -n "$NS" link set lo up
  ip -n "$NS" addr add "$IP/24" dev eth0
  ip -n "$NS" link set eth0 up
  # No default route in the netns: the proxy on $HOST_IP is the only way out.
}

wait_proxy() { # up to 5 s for the proxy to listen
  local i
  for ((i = 0; i < 100; i++)); do
    (: <"/dev/tcp/$HOST_IP/$PROXY_PORT") 2>/dev/null && return 0
    alive "$TD/proxy.pid" || break
    sleep 0.05
  done
  cat "$TD/proxy.log" >&2
  die "egressproxy is not listening on $HOST_IP:$PROXY_PORT"
}

ssh_target() { # USER CMD...
  local user=$1
  shift
  ssh -i "$TD/id_ed25519" -o UserKnownHostsFile="$TD/known_hosts" "${SSH_OPTS[@]}" "$user@$IP" "$@"
}

wait_ssh() { # up to 90 s for sshd to accept our key
  local i
  for ((i = 0; i < 450; i++)); do
    ssh_target root true 2>/dev/null && return 0
    alive "$TD/nspawn.pid" || { tail -n 30 "$TD/console.log" >&2; die "systemd-nspawn exited"; }
    sleep 0.2
  done
  tail -n 30 "$TD/console.log" >&2
  die "sshd in the target did not come up in 90s"
}

on_create_exit() { # EXIT trap of create: destroy what a failed create made
  local rc=$?
  trap - EXIT
  if [ $rc -ne 0 ]; then
    log "create failed; destroying $NAME"
    cmd_destroy "$NAME" || true
  fi
  exit $rc
}

cmd_create() {
  [ "$(id -u)" = 0 ] || die "must be root (netns, veth, systemd-nspawn)"
  [[ $STATE != *[[:space:]]* ]] || die "SANDBOX_STATE must not contain whitespace: $STATE"
  set_target "${1:-sbx-$(tr -dc a-z0-9 </dev/urandom | head -c 6)}"
  local t0 t
  t0=$(now)
  host_tools
  mkdir -p "$STATE"
  mkdir "$TD" 2>/dev/null || die "target $NAME exists (destroy it first)"
  # From here on, a failure (or SIGINT/SIGTERM) destroys whatever was made.
  trap on_create_exit EXIT
  trap 'exit 130' INT TERM

  ensure_rootfs
  ensure_nspawn
  ensure_proxy
  alloc_slot

  t=$(now)
  # The rootfs lives on a tmpfs of its own: unpacking takes a fraction of the
  # time it takes on disk, and destroy frees it at once with umount.
  mkdir "$ROOT"
  mount -t tmpfs -o mode=755,size=8g "sandbox-$NAME" "$ROOT"
  tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' -xpf "$(rootfs_tar)"
  configure_rootfs
  log "rootfs unpacked and configured in $(since "$t")"

  setup_net
  start_bg "$TD/proxy.pid" "$TD/proxy.log" "$PROXY_BIN" \
    -listen "$HOST_IP:$PROXY_PORT" -allow "$(allow_hosts)" -ports 80,443
  wait_proxy

  t=$(now)
  start_bg "$TD/nspawn.pid" "$TD/console.log" "${NSPAWN[@]}" \
    --directory="$ROOT" --machine="$NAME" --boot \
    --register=no --keep-unit --settings=no --link-journal=no --console=read-only \
    --private-network --network-namespace-path="/run/netns/$NS"
  wait_ssh
  alive "$TD/proxy.pid" || { cat "$TD/proxy.log" >&2; die "egressproxy exited"; }
  # The container's init (nspawn's child) is recorded too, for destroy.
  local leader
  leader=$(cat /proc/"$(cut -d' ' -f1 "$TD/nspawn.pid")"/task/*/children 2>/dev/null || true)
  leader=${leader%% *}
  [ -n "$leader" ] && { record_pid "$TD/init.pid" "$leader" || true; }

  # Wait for the boot to finish, like a cloud instance that is fully up.
  local state
  state=$(ssh_target root timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
  case $state in
  running) ;;
  degraded) log "warning: $NAME is degraded: $(ssh_target root systemctl --failed --plain --no-legend | tr '\n' ' ')" ;;
  *) die "$NAME did not finish booting: systemctl is-system-running = '$state'" ;;
  esac
  log "$NAME booted in $(since "$t") ($state)"

  trap - EXIT INT TERM
  log "target $NAME up in $(since "$t0"): $IP (ssh: $0 ssh $NAME)"
  cmd_info "$NAME"
}

cmd_info() {
  set_target "$1"
  [ -n "$N" ] || die "no target $NAME"
  printf '%s\n' "SANDBOX_NAME=$NAME" "SANDBOX_IP=$IP" "SANDBOX_HOST_IP=$HOST_IP" \
    "SANDBOX_PROXY=http://$HOST_IP:$PROXY_PORT" "SANDBOX_SSH_KEY=$TD/id_ed25519" \
    "SANDBOX_KNOWN_HOSTS=$TD/known_hosts" "SANDBOX_ADMIN_USER=$ADMIN_USER" \
    "SANDBOX_NETNS=$NS" "SANDBOX_VETH=$VETH" "SANDBOX_ROOTFS=$ROOT" "SANDBOX_STATE_DIR=$TD"
}

cmd_ssh() {
  set_target "$1"
  shift
  [ -n "$N" ] || die "no target $NAME"
  ssh_target "${SANDBOX_SSH_USER:-root}" "$@"
}

cmd_list() {
  local d
  for d in "$STATE"/*/; do basename "$d"; done
}

mounted() { # DIR: is anything mounted on DIR or below it?
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}

cmd_destroy() {
  [ "$(id -u)" = 0 ] || die "must be root"
  set_target "$1"
  [ -d "$TD" ] || { log "no target $NAME"; return 0; }
  local t0 t ok=1 i times=""
  t0=$(now)

  # systemd-nspawn turns SIGTERM into a clean poweroff of the container
  # (normally well under a second). The target is disposable: if that takes
  # longer, SIGKILL its init, which ends its whole PID namespace, and nspawn
  # exits by itself.
  signal "$TD/nspawn.pid" TERM
  if ! wait_dead "$TD/nspawn.pid" 10; then
    log "$NAME did not power off in 10s; killing its init. Console:"
    tail -n 5 "$TD/console.log" | tr -d '\033' | cut -c1-120 >&2
    signal "$TD/init.pid" KILL
    wait_dead "$TD/init.pid" 5 || ok=0
    stop "$TD/nspawn.pid" 5 || ok=0
  fi
  wait_dead "$TD/init.pid" 5 || ok=0
  stop "$TD/proxy.pid" 5 || ok=0
  [ $ok = 1 ] || log "error: processes of $NAME still running"
  times="processes $(since "$t0")"
  t=$(now)

  if [ -n "$N" ]; then
    ip netns del "$NS" 2>/dev/null || true
    ip link del "$VETH" 2>/dev/null || true
    # The veth pair goes when the netns is freed, which the kernel does asynchronously.
    for ((i = 0; i < 50; i++)); do
      ip link show "$VETH" >/dev/null 2>&1 || [ -e "/run/netns/$NS" ] || break
      sleep 0.1
    done
    if [ -e "/run/netns/$NS" ] || ip link show "$VETH" >/dev/null 2>&1; then
      log "error: netns $NS or veth $VETH still present"
      ok=0
    fi
  fi
  times="$times, network $(since "$t")"
  # The rootfs tmpfs, once nothing runs on it any more.
  if [ $ok = 1 ] && mounted "$ROOT"; then
    umount "$ROOT" || ok=0
  fi
  # Files systemd-nspawn leaves on the host for this machine.
  rm -rf --one-file-system "/run/systemd/nspawn/propagate/$NAME"
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null || true

  if mounted "$TD"; then
    log "error: mounts remain under $TD; not removing it"
    ok=0
  fi
  [ $ok = 1 ] || die "destroy $NAME incomplete; state kept in $TD"

  t=$(now)
  rm -rf --one-file-system "$TD"
  times="$times, files $(since "$t")"
  # Release the slot, if it is still ours.
  if [ -n "$N" ] && [ "$(readlink "$SLOTS/slot-$N" 2>/dev/null)" = "$TD" ]; then
    rm -f "$SLOTS/slot-$N"
  fi
  log "target $NAME destroyed in $(since "$t0") ($times)"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

case ${1:-}:$# in
create:1 | create:2) cmd_create "${2:-}" ;;
destroy:2) cmd_destroy "$2" ;;
info:2) cmd_info "$2" ;;
ssh:*) [ $# -ge 2 ] || usage; shift; cmd_ssh "$@" ;;
list:1) cmd_list ;;
*) usage ;;
esac
