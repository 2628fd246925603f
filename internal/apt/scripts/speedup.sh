# For the build only, as Debian's own image builders do: dpkg stops
# fsync(2)ing every file it unpacks (force-unsafe-io: a crash mid-build
# ruins only a build that is thrown away anyway), and man-db's trigger
# stops rebuilding its index after every package. Restore puts both back;
# the marker records what was there before, written before anything
# changes, so a rerun after a crash (max_retries, a lost connection) finds
# the original state there and does not take the changed one for it.
marker={{q .Marker}}
snippet={{q .Snippet}}
autoupdate={{q .AutoUpdate}}
if [ -e "$marker" ]; then
  echo "an earlier run did not restore dpkg's settings; keeping what it recorded: $(cat "$marker")"
else
  mkdir -p "${marker%/*}"
  if [ -e "$autoupdate" ]; then was=present; else was=absent; fi
  echo "man_db_auto_update=$was" > "$marker.tmp"
  mv -f "$marker.tmp" "$marker"
fi
mkdir -p "${snippet%/*}"
printf '%s\n' '# node-primal: for the build only; removed when it ends.' force-unsafe-io > "$snippet.tmp"
mv -f "$snippet.tmp" "$snippet"
rm -f "$autoupdate"
echo "dpkg: force-unsafe-io; man-db: auto-update off (until the end of the build)"
