# Puts back what the speed-up step changed, as its marker recorded it. Run
# at the end of the build, after a failed one, and safe with nothing to do.
marker={{q .Marker}}
snippet={{q .Snippet}}
autoupdate={{q .AutoUpdate}}
rm -f "$snippet" "$snippet.tmp"
if [ -e "$marker" ]; then
  # man-db's own file; its directory is gone only if man-db was removed.
  if grep -qx 'man_db_auto_update=present' "$marker" && [ -d "${autoupdate%/*}" ]; then
    touch "$autoupdate"
  fi
  # What dpkg unpacked without fsync reaches the disk before the image is taken.
  sync
  rm -f "$marker" "$marker.tmp"
  rmdir "${marker%/*}" 2>/dev/null || true
  echo "dpkg's settings restored (force-unsafe-io off; man-db auto-update $(if [ -e "$autoupdate" ]; then echo on; else echo off, as it was; fi))"
else
  echo "nothing to restore"
fi
