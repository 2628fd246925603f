dir={{q .Dir}}
# The directories from the home down to the precache belong to the user
# (uploading package.json created them as root).
d=$dir
while [ "$d" != "$instance_home" ] && [ "${d#"$instance_home"/}" != "$d" ]; do
  chown "$instance_user": "$d"
  d=${d%/*}
done
chown "$instance_user": "$dir"
cd "$dir"
{{- if .RemoveTokenFile}}
# The token file is on a tmpfs; remove it whatever happens.
trap 'rm -f {{q .Npmrc}}' EXIT
{{- end}}
{{- if .Npmrc}}
npm_config_userconfig={{q .Npmrc}}
{{- end}}
# Until node-primal records the new precache, no manifest claims one.
rm -f {{q .Manifest}}
rm -rf node_modules
# npm runs as the instance user, so node_modules and the npm cache in its
# home (kept warm for node-carnivore) belong to it; the app's own lifecycle
# scripts do not run (see npm_deps).
{{- if .LockfileName}}
npm_deps ci --omit=dev
{{- else}}
echo "no lockfile: npm install resolves versions now"
npm_deps install --omit=dev --no-package-lock
{{- end}}
echo "$(ls node_modules | wc -l) packages in $dir/node_modules"
{{- if .Audit}}
{{.Audit}}
{{- end}}
