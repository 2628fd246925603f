app={{q .AppDir}}
rel=$(cat {{q .Incoming}})
current={{q .Current}}
# A plain directory there (an app copied by hand) gives way to the link.
if [ -d "$current" ] && [ ! -L "$current" ]; then rm -rf "$current"; fi
ln -sfn "$rel" "$current.new"
chown -h {{q .User}}:{{q .Group}} "$current.new"
mv -Tf "$current.new" "$current"
for old in "$app"/releases/*; do
  [ "$old" = "$rel" ] || rm -rf "$old"
done
rm -f {{q .Incoming}}
echo "$current -> $rel"
