# dpkg takes fcntl(2) locks on these files; /proc/locks lists every held
# lock by device and inode (hex major:hex minor:inode), so a lock is held
# while its file's id appears there. (flock(1) cannot test an fcntl lock,
# and fuser/lsof may not be installed.)
held() {
  for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
    [ -e "$f" ] || continue
    id=$(printf '%02x:%02x:%s' $(stat -c '%Hd %Ld %i' "$f"))
    if grep -q " $id " /proc/locks; then
      echo "$f"
      return 0
    fi
  done
  return 1
}
deadline=$(( $(date +%s) + dpkg_lock_timeout ))
said=
while f=$(held); do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the dpkg lock ($f) is still held after ${dpkg_lock_timeout}s; giving up" >&2
    exit 1
  fi
  if [ -z "$said" ]; then
    echo "waiting for the dpkg lock ($f), up to ${dpkg_lock_timeout}s"
    said=1
  fi
  sleep 2
done
# A previous run may have been interrupted half-way through dpkg. dpkg
# itself does not wait for its lock, and another process may take it again
# right after the wait above: retry while the lock is what stops it.
until out=$(dpkg --configure -a 2>&1); do
  case $out in
  *"locked by another process"*)
    if [ "$(date +%s)" -lt "$deadline" ]; then
      echo "dpkg is locked again; waiting"
      sleep 2
      continue
    fi
    ;;
  esac
  echo "$out" >&2
  exit 1
done
[ -z "$out" ] || echo "$out"
echo "dpkg lock is free"
