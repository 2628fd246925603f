#!/bin/bash
# make-base-image.sh - the base image of the VM image tests: a bootable Debian
# qcow2 (trixie, Debian 13, by default) made like a cloud image, built from
# the Debian mirror the host's apt already uses; no cloud image is
# downloaded.
#
# The image: BIOS boot with GRUB, one ext4 partition, systemd, openssh-server
# (an Ed25519 host key made at first boot), DHCP on eth0, user `admin` with
# passwordless sudo logging in with a key made for this cache, root without
# login, the apt-daily timers masked, the host's extra CA certificates
# (/usr/local/share/ca-certificates/*.crt) trusted, apt sources = the host's
# mirror (no translations), no e2scrub.
#
# Usage: make-base-image.sh            (as root; needs loop devices)
# Prints on stdout, for tests and scripts:
#   VM_IMAGE=/path/to/debian-trixie-<recipe>.qcow2
#   VM_SSH_KEY=/path/to/id_ed25519     (private key of user admin)
#   VM_SSH_USER=admin
# Progress and timings go to stderr.
#
# Env:
#   VM_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/vm)
#   SUITE     Debian suite (default trixie; bookworm works too)
#   SIZE      virtual disk size (default 8G; the qcow2 holds only what is used)
#   MIRROR    Debian mirror URL (default: the host's, from its apt sources)
#
# The image is cached under a name that carries a hash of its recipe (this
# script, suite, mirror, size, key, CA certificates): it is built once, reused
# while the recipe is unchanged, and rebuilt (older ones removed) when it
# changes. Builds run under a lock, in a temporary directory of the cache,
# and the finished image is moved into place, so no one ever sees half an
# image. Images that Packer builds on top of it (use_backing_file) record its
# absolute path: leave it where it is.
set -euo pipefail

SUITE=${SUITE:-trixie}
SIZE=${SIZE:-8G}
CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/vm}
GUEST_USER="admin"
PKGS=(linux-image-cloud-amd64 systemd-sysv udev dbus openssh-server grub-pc
  ifupdown isc-dhcp-client ca-certificates curl sudo iproute2 netbase procps less)

log() { printf '[base-image %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (loop devices, mount, chroot)"

# --- host packages ---------------------------------------------------------
# Command -> Debian package; a fresh machine (CI) gets them here.
declare -A HOST_PKG=(
  [mmdebstrap]=mmdebstrap [sfdisk]=fdisk [partx]=util-linux [losetup]=mount
  [flock]=util-linux [blkid]=util-linux [mkfs.ext4]=e2fsprogs
  [qemu-img]=qemu-utils [qemu-system-x86_64]=qemu-system-x86
  [ssh-keygen]=openssh-client [ssh]=openssh-client
)
need=()
for c in "${!HOST_PKG[@]}"; do
  command -v "$c" >/dev/null || need+=("${HOST_PKG[$c]}")
done
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  log "installing host packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp)
  apt_get() { apt-get -q -o DPkg::Lock::Timeout=600 "$@" >>"$apt_log" 2>&1; }
  # On a fresh machine the package lists may be missing or stale.
  apt_get install -y --no-install-recommends "${need[@]}" ||
    { apt_get update && apt_get install -y --no-install-recommends "${need[@]}"; } ||
    { tail -n 30 "$apt_log" >&2; die "cannot install ${need[*]}"; }
  rm -f "$apt_log"
fi

# --- the host's Debian mirror ----------------------------------------------
# apt_sources prints "URI SUITE COMPONENTS..." for every enabled deb entry of
# the host, from one-line (.list) and deb822 (.sources) files.
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }   # skip [options]
      printf "%s", $i; for (j = i + 1; j <= NF && $j !~ /^#/; j++) printf " %s", $j; print ""
    }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uris[u], suites[s], comps
        types = ""; enabled = ""; nu = 0; ns = 0; comps = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "") }
      key == "types" { types = $0 }
      key == "enabled" { enabled = tolower($0) }
      key == "uris" { nu = split($0, uris, " ") }
      key == "suites" { ns = split($0, suites, " ") }
      key == "components" { comps = $0 }
      END { flush() }' "$f"
  done
}
# mirror_for SUITE: the URI of the first entry for that suite with main.
mirror_for() {
  apt_sources | awk -v s="$1" '$2 == s && / main( |$)/ { print $1; exit }'
}
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(mirror_for "$SUITE")
  # A host of another release: any entry that serves main from a Debian archive.
  [ -n "$MIRROR" ] || MIRROR=$(apt_sources | awk '/ main( |$)/ && $1 ~ /\/debian\/?$/ { print $1; exit }')
  [ -n "$MIRROR" ] || die "no Debian mirror with main found in the host's apt sources; set MIRROR"
  SECURITY=$(mirror_for "$SUITE-security")
  # A host of another release: its security archive serves every suite.
  [ -n "$SECURITY" ] || SECURITY=$(apt_sources | awk '$2 ~ /-security$/ && / main( |$)/ { print $1; exit }')
else
  SECURITY=${SECURITY:-}
fi
MIRROR=${MIRROR%/}
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
[ -n "$SECURITY" ] && SOURCES+=("deb ${SECURITY%/} $SUITE-security main")

# --- cache, lock, key --------------------------------------------------------
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "waiting for another build of the base image (lock $CACHE/.lock)"
  flock 9
fi
KEY=$CACHE/id_ed25519
if [ ! -s "$KEY" ] || [ ! -s "$KEY.pub" ]; then
  rm -f "$KEY" "$KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C "$GUEST_USER@packer-plugin-node-vm" -f "$KEY"
  log "made the SSH key $KEY"
fi

shopt -s nullglob
CA_CERTS=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
# The recipe: what the image is made of and how (the part of this script
# from "--- build" on), not how the host gets its tools.
RECIPE=$({
  sed -n '/^# --- build ---/,$p' "${BASH_SOURCE[0]}"
  printf '%s\n' "$SUITE" "$SIZE" "$GUEST_USER" "${SOURCES[@]}" "${PKGS[@]}"
  cat "$KEY.pub"
  if [ ${#CA_CERTS[@]} -gt 0 ]; then cat "${CA_CERTS[@]}"; fi
} | sha256sum | cut -c1-12)
IMAGE=$CACHE/debian-$SUITE-$RECIPE.qcow2

report() {
  printf 'VM_IMAGE=%s\nVM_SSH_KEY=%s\nVM_SSH_USER=%s\n' "$IMAGE" "$KEY" "$GUEST_USER"
}
if [ -s "$IMAGE" ]; then
  log "reusing $IMAGE"
  report
  exit 0
fi

# Leftovers of builds that were killed (we hold the lock: none is running).
# Never remove through a mount: unmount first, and --one-file-system.
for stale in "$CACHE"/tmp.*; do
  [ -d "$stale" ] || continue
  findmnt -rn -o TARGET | grep -F "$stale/" | sort -r | while read -r m; do umount -l "$m" || true; done
  for l in $(losetup -j "$stale/disk.raw" -O NAME -n 2>/dev/null); do partx -d "$l" 2>/dev/null; losetup -d "$l" || true; done
  rm -rf --one-file-system "$stale" || log "warning: cannot remove $stale"
done

# --- build ---------------------------------------------------------------
WORK=$(mktemp -d "$CACHE/tmp.XXXXXX")
RAW=$WORK/disk.raw
MNT=$WORK/mnt
LOOP=""
cleanup() {
  set +e
  for m in dev/pts dev proc sys ""; do
    mountpoint -q "$MNT/$m" && umount "$MNT/$m"
  done
  if [ -n "$LOOP" ]; then partx -d "$LOOP" 2>/dev/null; losetup -d "$LOOP"; fi
  if findmnt -rn -o TARGET | grep -qF "$WORK/"; then
    log "warning: something is still mounted under $WORK; left in place"
  else
    rm -rf --one-file-system "$WORK"
  fi
}
trap cleanup EXIT

log "building $IMAGE (suite $SUITE, mirror $MIRROR${SECURITY:+, security $SECURITY})"
t0=$SECONDS
mmdebstrap --variant=minbase --include="$(IFS=,; echo "${PKGS[*]}")" \
  --components=main "$SUITE" "$WORK/rootfs.tar" "${SOURCES[@]}" >"$WORK/mmdebstrap.log" 2>&1 ||
  { tail -n 40 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
log "root filesystem made in $((SECONDS - t0))s"

t1=$SECONDS
truncate -s "$SIZE" "$RAW"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$RAW"
LOOP=$(losetup -f --show "$RAW")
# This kernel may have no MSDOS partition parser (losetup -P shows nothing):
# add the partition explicitly.
partx -a "$LOOP"
PART=${LOOP}p1
for _ in $(seq 50); do [ -b "$PART" ] && break; sleep 0.1; done
[ -b "$PART" ] || die "partition device $PART did not appear"
# Inode tables and journal zeroed now, not by the guest's ext4lazyinit
# (which would write them into every image built on this one).
mkfs.ext4 -q -L rootfs -E lazy_itable_init=0,lazy_journal_init=0 "$PART"
UUID=$(blkid -s UUID -o value "$PART")
mkdir -p "$MNT"
mount "$PART" "$MNT"
tar -C "$MNT" --numeric-owner --xattrs --xattrs-include='*' -xpf "$WORK/rootfs.tar"
rm -f "$WORK/rootfs.tar"

# --- configure ---------------------------------------------------------------
echo debian > "$MNT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$MNT/etc/hosts"
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" > "$MNT/etc/fstab"
cat > "$MNT/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
allow-hotplug eth0
iface eth0 inet dhcp
EOF
# A fresh machine-id at the first boot of every clone.
: > "$MNT/etc/machine-id"
rm -f "$MNT/var/lib/dbus/machine-id"

# The cloud images' default user: key login, passwordless sudo.
chroot "$MNT" useradd --create-home --shell /bin/bash --groups adm,sudo "$GUEST_USER"
uid=$(chroot "$MNT" id -u "$GUEST_USER")
gid=$(chroot "$MNT" id -g "$GUEST_USER")
install -d -m 700 -o "$uid" -g "$gid" "$MNT/home/$GUEST_USER/.ssh"
install -m 600 -o "$uid" -g "$gid" "$KEY.pub" "$MNT/home/$GUEST_USER/.ssh/authorized_keys"
echo "$GUEST_USER ALL=(ALL) NOPASSWD:ALL" > "$MNT/etc/sudoers.d/90-$GUEST_USER"
chmod 440 "$MNT/etc/sudoers.d/90-$GUEST_USER"
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nUseDNS no\nHostKey /etc/ssh/ssh_host_ed25519_key\n' \
  > "$MNT/etc/ssh/sshd_config.d/10-base-image.conf"

# SSH host key: made at the first boot of each clone, not shared by all.
# Ed25519 only: an RSA key takes most of a minute under CPU emulation.
rm -f "$MNT"/etc/ssh/ssh_host_*
cat > "$MNT/etc/systemd/system/ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate the SSH host key at first boot
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
RemainAfterExit=yes

[Install]
RequiredBy=ssh.service
EOF
chroot "$MNT" systemctl --quiet enable ssh-host-keys.service

# No background apt runs fighting provisioners for the dpkg lock, and no
# e2scrub (for LVM snapshots, of which there are none) eating emulated CPU.
chroot "$MNT" systemctl --quiet mask apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service
# No translated package descriptions: apt-get update fetches a third less.
echo 'Acquire::Languages "none";' > "$MNT/etc/apt/apt.conf.d/90-no-translations"

# Trust the host's extra CA certificates (e.g. a TLS-inspecting proxy's).
if [ ${#CA_CERTS[@]} -gt 0 ]; then
  cp "${CA_CERTS[@]}" "$MNT/usr/local/share/ca-certificates/"
  chroot "$MNT" update-ca-certificates >/dev/null
  log "trusting ${#CA_CERTS[@]} CA certificate(s) from /usr/local/share/ca-certificates"
fi

# grub-pc upgrades inside the VM reinstall GRUB here, without asking.
echo "grub-pc grub-pc/install_devices multiselect /dev/vda" | chroot "$MNT" debconf-set-selections
cat > "$MNT/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 net.ifnames=0"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF

for m in dev dev/pts proc sys; do mount --bind "/$m" "$MNT/$m"; done
chroot "$MNT" grub-install --target=i386-pc --modules="part_msdos ext2" "$LOOP" >"$WORK/grub.log" 2>&1 ||
  { cat "$WORK/grub.log" >&2; die "grub-install failed"; }
# grub.cfg by hand: update-grub in a chroot would put root=/dev/loopNp1 in it.
# /vmlinuz and /initrd.img follow kernel upgrades, and update-grub inside the
# booted VM works normally.
cat > "$MNT/boot/grub/grub.cfg" <<EOF
set timeout=0
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $UUID
menuentry 'Debian GNU/Linux' {
  linux /vmlinuz root=UUID=$UUID ro console=tty0 console=ttyS0,115200 net.ifnames=0
  initrd /initrd.img
}
EOF
for f in vmlinuz initrd.img; do [ -e "$MNT/$f" ] || die "no /$f in the image"; done
for m in dev/pts dev proc sys; do umount "$MNT/$m"; done
umount "$MNT"
partx -d "$LOOP"
losetup -d "$LOOP"
LOOP=""
log "disk assembled in $((SECONDS - t1))s"

t2=$SECONDS
qemu-img convert -c -O qcow2 "$RAW" "$WORK/image.qcow2"
mv "$WORK/image.qcow2" "$IMAGE"
log "wrote $IMAGE ($(du -h "$IMAGE" | cut -f1) on disk, $SIZE virtual): compressed in $((SECONDS - t2))s, $((SECONDS - t0))s in all"

# Older recipes of this suite are of no further use.
for old in "$CACHE"/debian-"$SUITE"-*.qcow2; do
  [ "$old" = "$IMAGE" ] || { rm -f "$old"; log "removed the outdated $old"; }
done
report
