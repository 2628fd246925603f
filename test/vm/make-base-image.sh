#!/bin/bash
# make-base-image.sh - the base image of the VM image tests: a bootable Debian
# qcow2 (trixie, Debian 13, by default) made like a cloud image, built from
# the Debian mirror the host's apt already uses; no cloud image is
# downloaded.
#
# The image: BIOS boot with GRUB and one ext4 partition (amd64), or UEFI
# boot with GRUB from an EFI system partition beside the ext4 one (arm64,
# for QEMU's virt machine with Debian's UEFI firmware), systemd, openssh-server
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
#   VM_ARCH=amd64|arm64
#   VM_FIRMWARE=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd   (arm64 only: QEMU's -bios)
# Progress and timings go to stderr.
#
# Env:
#   VM_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/vm)
#   SUITE     Debian suite (default trixie; bookworm works too)
#   ARCH      amd64 (default) or arm64: an arm64 image is built through
#             qemu-user (binfmt_misc; the root filesystem takes minutes) and
#             boots under qemu-system-aarch64 -machine virt with UEFI
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
ARCH=${ARCH:-amd64}
SIZE=${SIZE:-8G}
CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-node/vm}
GUEST_USER="admin"
PKGS=(systemd-sysv udev dbus openssh-server
  ifupdown isc-dhcp-client ca-certificates curl sudo iproute2 netbase procps less)
# Debian's UEFI firmware for QEMU's arm64 virt machine (qemu-efi-aarch64).
AA64_FIRMWARE=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd

log() { printf '[base-image %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (loop devices, mount, chroot)"
case $ARCH in
  amd64) PKGS+=(linux-image-cloud-amd64 grub-pc) ;;
  arm64) PKGS+=(linux-image-cloud-arm64 grub-efi-arm64) ;;
  *) die "ARCH=$ARCH: not supported (amd64 or arm64)" ;;
esac

# --- host packages ---------------------------------------------------------
# Command -> Debian package; a fresh machine (CI) gets them here.
declare -A HOST_PKG=(
  [mmdebstrap]=mmdebstrap [sfdisk]=fdisk [partx]=util-linux [losetup]=mount
  [flock]=util-linux [blkid]=util-linux [mkfs.ext4]=e2fsprogs
  [qemu-img]=qemu-utils [qemu-system-x86_64]=qemu-system-x86
  [ssh-keygen]=openssh-client [ssh]=openssh-client
)
if [ "$ARCH" = arm64 ]; then
  # mmdebstrap runs the arm64 packages' scripts through qemu-user
  # (binfmt_misc), and checks that it can with arch-test.
  # The EFI partition is made and filled without mounting it (mkfs.vfat,
  # mtools): a host kernel may have no vfat.
  HOST_PKG+=([qemu-aarch64-static]=qemu-user-static [update-binfmts]=binfmt-support
    [arch-test]=arch-test [mkfs.vfat]=dosfstools [mcopy]=mtools [qemu-system-aarch64]=qemu-system-arm)
fi
need=()
for c in "${!HOST_PKG[@]}"; do
  command -v "$c" >/dev/null || need+=("${HOST_PKG[$c]}")
done
if [ "$ARCH" = arm64 ] && [ ! -s "$AA64_FIRMWARE" ]; then need+=(qemu-efi-aarch64); fi
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
if [ "$ARCH" = arm64 ]; then
  [ -s "$AA64_FIRMWARE" ] || die "no UEFI firmware at $AA64_FIRMWARE (package qemu-efi-aarch64)"
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
  arch-test arm64 >/dev/null || die "this host cannot run arm64 binaries through qemu-user (arch-test arm64)"
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
  [ "$ARCH" = amd64 ] || echo "$ARCH"
  cat "$KEY.pub"
  if [ ${#CA_CERTS[@]} -gt 0 ]; then cat "${CA_CERTS[@]}"; fi
} | sha256sum | cut -c1-12)
# amd64 images keep the name they always had; others carry their
# architecture.
if [ "$ARCH" = amd64 ]; then NAME=debian-$SUITE; else NAME=debian-$SUITE-$ARCH; fi
IMAGE=$CACHE/$NAME-$RECIPE.qcow2

report() {
  printf 'VM_IMAGE=%s\nVM_SSH_KEY=%s\nVM_SSH_USER=%s\nVM_ARCH=%s\n' "$IMAGE" "$KEY" "$GUEST_USER" "$ARCH"
  if [ "$ARCH" = arm64 ]; then printf 'VM_FIRMWARE=%s\n' "$AA64_FIRMWARE"; fi
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
# del_partitions LOOP: the kernel's partitions of LOOP, removed. Right after
# an unmount a partition can be busy for a moment: retry for 10 s.
del_partitions() {
  for _ in $(seq 20); do
    partx -d "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  partx -d "$1"
}
WORK=$(mktemp -d "$CACHE/tmp.XXXXXX")
RAW=$WORK/disk.raw
MNT=$WORK/mnt
LOOP=""
cleanup() {
  set +e
  for m in dev/pts dev proc sys ""; do
    mountpoint -q "$MNT/$m" && umount "$MNT/$m"
  done
  if [ -n "$LOOP" ]; then del_partitions "$LOOP"; losetup -d "$LOOP"; fi
  if findmnt -rn -o TARGET | grep -qF "$WORK/"; then
    log "warning: something is still mounted under $WORK; left in place"
  else
    rm -rf --one-file-system "$WORK"
  fi
}
trap cleanup EXIT

log "building $IMAGE (suite $SUITE, $ARCH, mirror $MIRROR${SECURITY:+, security $SECURITY})"
t0=$SECONDS
HOOKS=()
if [ "$ARCH" = arm64 ]; then
  # Under qemu-user every command of mkinitramfs is emulated: the
  # initramfs holds only what boots QEMU's virt machine from its virtio
  # disk (MODULES=list, and a hook adding those modules), not most of the
  # kernel's. Both files are in place before the kernel's package makes it.
  cat > "$WORK/initramfs-conf" <<'EOF'
# make-base-image.sh: only the modules hooks/base-image adds.
MODULES=list
EOF
  cat > "$WORK/initramfs-hook" <<'EOF'
#!/bin/sh
# make-base-image.sh: what QEMU's virt machine needs to mount the root
# filesystem from its virtio disk (conf.d/base-image has MODULES=list).
case $1 in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk ext4
EOF
  HOOKS+=(--setup-hook="install -D -m 644 '$WORK/initramfs-conf' \"\$1/etc/initramfs-tools/conf.d/base-image\""
    --setup-hook="install -D -m 755 '$WORK/initramfs-hook' \"\$1/etc/initramfs-tools/hooks/base-image\"")
fi
# The root filesystem is kept beside the cache until the image is written,
# so that a build that fails later (or is killed) does not make it again:
# under qemu-user (arm64) it is most of the build. Its name carries a hash
# of what mmdebstrap is given.
ROOTFS_KEY=$({
  printf '%s\n' "$SUITE" "$ARCH" "${SOURCES[@]}" "${PKGS[@]}"
  if [ "$ARCH" = arm64 ]; then cat "$WORK/initramfs-conf" "$WORK/initramfs-hook"; fi
} | sha256sum | cut -c1-12)
ROOTFS=$CACHE/$NAME-rootfs-$ROOTFS_KEY.tar
if [ -s "$ROOTFS" ]; then
  log "reusing the root filesystem $ROOTFS"
else
  log "making the root filesystem $ROOTFS"
  mmdebstrap --variant=minbase --arch="$ARCH" --include="$(IFS=,; echo "${PKGS[*]}")" "${HOOKS[@]}" \
    --components=main "$SUITE" "$WORK/rootfs.tar" "${SOURCES[@]}" >"$WORK/mmdebstrap.log" 2>&1 ||
    { tail -n 40 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
  mv "$WORK/rootfs.tar" "$ROOTFS"
  log "root filesystem made in $((SECONDS - t0))s"
fi

t1=$SECONDS
truncate -s "$SIZE" "$RAW"
if [ "$ARCH" = arm64 ]; then
  # GPT: an EFI system partition (GRUB for the firmware), then the root.
  printf 'label: gpt\nstart=2048, size=126MiB, type=U\ntype=L\n' | sfdisk -q "$RAW"
else
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$RAW"
fi
LOOP=$(losetup -f --show "$RAW")
# This kernel may have no partition table parser (losetup -P shows
# nothing): add the partitions explicitly.
partx -a "$LOOP"
if [ "$ARCH" = arm64 ]; then ESP=${LOOP}p1 PART=${LOOP}p2; else ESP="" PART=${LOOP}p1; fi
for p in $ESP $PART; do
  for _ in $(seq 50); do [ -b "$p" ] && break; sleep 0.1; done
  [ -b "$p" ] || die "partition device $p did not appear"
done
# Inode tables and journal zeroed now, not by the guest's ext4lazyinit
# (which would write them into every image built on this one).
mkfs.ext4 -q -L rootfs -E lazy_itable_init=0,lazy_journal_init=0 "$PART"
UUID=$(blkid -s UUID -o value "$PART")
mkdir -p "$MNT"
mount "$PART" "$MNT"
tar -C "$MNT" --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOTFS"
if [ -n "$ESP" ]; then
  mkfs.vfat -F 32 -n EFI "$ESP" >/dev/null
  ESP_UUID=$(blkid -s UUID -o value "$ESP")
  mkdir -p "$MNT/boot/efi"
fi

# --- configure ---------------------------------------------------------------
echo debian > "$MNT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$MNT/etc/hosts"
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" > "$MNT/etc/fstab"
# No fsck for the EFI partition (the image has no fsck.vfat).
[ -z "$ESP" ] || echo "UUID=$ESP_UUID /boot/efi vfat umask=0077 0 0" >> "$MNT/etc/fstab"
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

if [ "$ARCH" = arm64 ]; then
  CONSOLE=ttyAMA0 # the virt machine's PL011 UART
  # GRUB upgrades inside the VM update the removable-media path the image
  # boots from (the firmware keeps no boot entries: -bios, no NVRAM).
  printf '%s\n' "grub-efi-arm64 grub2/force_efi_extra_removable boolean true" \
    "grub-efi-arm64 grub2/update_nvram boolean false" | chroot "$MNT" debconf-set-selections
  TERMINAL=console # the firmware's console, on the serial port
else
  CONSOLE=ttyS0
  # grub-pc upgrades inside the VM reinstall GRUB here, without asking.
  echo "grub-pc grub-pc/install_devices multiselect /dev/vda" | chroot "$MNT" debconf-set-selections
  TERMINAL="console serial"
fi
cat > "$MNT/etc/default/grub" <<EOF
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=$CONSOLE,115200 net.ifnames=0"
GRUB_TERMINAL="$TERMINAL"
EOF
[ "$ARCH" = arm64 ] || echo 'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"' >> "$MNT/etc/default/grub"

for m in dev dev/pts proc sys; do mount --bind "/$m" "$MNT/$m"; done
if [ "$ARCH" = arm64 ]; then
  # EFI/BOOT/BOOTAA64.EFI, what UEFI firmware boots without boot entries:
  # GRUB as grub-install would make it (grub-install itself wants the EFI
  # partition mounted), finding the root filesystem by its UUID and reading
  # /boot/grub/grub.cfg and its modules there. Written into the partition
  # with mtools. ($root is GRUB's, not the shell's.)
  cp -a "$MNT/usr/lib/grub/arm64-efi" "$MNT/boot/grub/"
  # shellcheck disable=SC2016
  printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n' "$UUID" > "$MNT/boot/grub/early.cfg"
  chroot "$MNT" grub-mkimage -O arm64-efi -o /boot/grub/BOOTAA64.EFI -c /boot/grub/early.cfg -p /boot/grub \
    part_gpt ext2 fat search search_fs_uuid normal linux configfile echo >"$WORK/grub.log" 2>&1 ||
    { cat "$WORK/grub.log" >&2; die "grub-mkimage failed"; }
  # (mtools says "Could not get geometry of device" of a partition: harmless.)
  { mmd -i "$ESP" ::/EFI ::/EFI/BOOT && mcopy -i "$ESP" "$MNT/boot/grub/BOOTAA64.EFI" ::/EFI/BOOT/BOOTAA64.EFI; } \
    >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "cannot write GRUB into the EFI partition"; }
  rm -f "$MNT/boot/grub/BOOTAA64.EFI"
  GRUB_HEAD="insmod part_gpt
insmod ext2"
else
  chroot "$MNT" grub-install --target=i386-pc --modules="part_msdos ext2" "$LOOP" >"$WORK/grub.log" 2>&1 ||
    { cat "$WORK/grub.log" >&2; die "grub-install failed"; }
  GRUB_HEAD="serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
insmod part_msdos
insmod ext2"
fi
# grub.cfg by hand: update-grub in a chroot would put root=/dev/loopNp1 in it.
# /vmlinuz and /initrd.img follow kernel upgrades, and update-grub inside the
# booted VM works normally.
cat > "$MNT/boot/grub/grub.cfg" <<EOF
set timeout=0
$GRUB_HEAD
search --no-floppy --fs-uuid --set=root $UUID
menuentry 'Debian GNU/Linux' {
  linux /vmlinuz root=UUID=$UUID ro console=tty0 console=$CONSOLE,115200 net.ifnames=0
  initrd /initrd.img
}
EOF
for f in vmlinuz initrd.img; do [ -e "$MNT/$f" ] || die "no /$f in the image"; done
for m in dev/pts dev proc sys; do umount "$MNT/$m"; done
umount "$MNT"
del_partitions "$LOOP" || die "cannot remove the partitions of $LOOP"
losetup -d "$LOOP"
LOOP=""
log "disk assembled in $((SECONDS - t1))s"

t2=$SECONDS
qemu-img convert -c -O qcow2 "$RAW" "$WORK/image.qcow2"
mv "$WORK/image.qcow2" "$IMAGE"
rm -f "$ROOTFS"
log "wrote $IMAGE ($(du -h "$IMAGE" | cut -f1) on disk, $SIZE virtual): compressed in $((SECONDS - t2))s, $((SECONDS - t0))s in all"

# Older recipes of this suite and architecture are of no further use.
# (The 12 characters of the recipe hash: debian-trixie-* would match arm64's too.)
for old in "$CACHE/$NAME"-????????????.qcow2 "$CACHE/$NAME"-rootfs-????????????.tar; do
  [ -e "$old" ] || continue # an unmatched pattern
  [ "$old" = "$IMAGE" ] || { rm -f "$old"; log "removed the outdated $old"; }
done
report
