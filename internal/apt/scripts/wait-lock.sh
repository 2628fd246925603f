# dpkg takes fcntl(2) locks on these files; /proc/locks lists every held
# lock as MAJOR:MINOR:INODE, so a lock is held while its inode appears there.
# (flock(1) cannot test an fcntl lock, and fuser/lsof may not be installed.)
held() {
  for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
    [ -e "$f" ] || continue
    ino=$(stat -c %i "$f")
    if awk -v ino="$ino" '{ n = split($6, a, ":"); if (a[n] == ino) found = 1 } END { exit !found }' /proc/locks; then
      echo "$f"
      return 0
    fi
  done
  return 1
}
deadline=$(( $(date +%s) + {{.Seconds}} ))
said=
while f=$(held); do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the dpkg lock ($f) is still held after {{.Seconds}}s; giving up" >&2
    exit 1
  fi
  if [ -z "$said" ]; then
    echo "waiting for the dpkg lock ($f), up to {{.Seconds}}s"
    said=1
  fi
  sleep 2
done
# A previous run may have been interrupted half-way through dpkg.
dpkg --configure -a
echo "dpkg lock is free"
