main={{q .Main}}
site={{q .Available}}/{{q .Name}}.conf
link={{q .Enabled}}/{{q .Name}}.conf
backup=$(mktemp -d /root/nginx-backup.XXXXXXXX)
trap 'rm -rf "$backup"' EXIT
# Keep what is there now, to put it back if the new config is rejected.
cp -a "$main" "$backup/nginx.conf"
[ -e "$site" ] && cp -a "$site" "$backup/site.conf"
[ -L "$link" ] && touch "$backup/was-enabled"
[ -e {{q .Enabled}}/default ] && cp -a {{q .Enabled}}/default "$backup/default"
mv -f "$main.node-new" "$main"
mv -f "$site.node-new" "$site"
ln -sfn "$site" "$link"
rm -f {{q .Enabled}}/default
if ! out=$(nginx -t 2>&1); then
  echo "$out" >&2
  echo "nginx rejected the new configuration; the previous one is back in place" >&2
  cp -a "$backup/nginx.conf" "$main"
  if [ -e "$backup/site.conf" ]; then cp -a "$backup/site.conf" "$site"; else rm -f "$site"; fi
  [ -e "$backup/was-enabled" ] || rm -f "$link"
  [ -e "$backup/default" ] && cp -a "$backup/default" {{q .Enabled}}/default
  exit 1
fi
echo "$out"
if [ -d /run/systemd/system ]; then
  systemctl reload-or-restart nginx.service
else
  service nginx reload || service nginx restart
fi
