dir={{q .Dir}}
user={{q .User}}
home={{q .Home}}
# The directories from the home down to the precache belong to the user
# (uploading package.json created them as root).
d=$dir
while [ "$d" != "$home" ] && [ "${d#"$home"/}" != "$d" ]; do
  chown {{q .User}}: "$d"
  d=${d%/*}
done
chown {{q .User}}: "$dir"
cd "$dir"
{{- if not .KeepNpmrc}}
# The token file is on a tmpfs; remove it whatever happens.
trap 'rm -f {{q .Npmrc}}' EXIT
{{- end}}
node_version=$(/usr/local/bin/node --version)
if [ -d node_modules ] && [ -f {{q .Manifest}} ] \
  && grep -q '"package_json_sha256": "{{.PackageSHA}}"' {{q .Manifest}} \
  && grep -q '"lockfile_sha256": {{if .LockfileName}}"{{.LockSHA}}"{{else}}null{{end}}' {{q .Manifest}} \
  && grep -q "\"node_version\": \"$node_version\"" {{q .Manifest}}; then
  echo "precache is current (same package.json{{if .LockfileName}} and {{.LockfileName}}{{end}}, node $node_version): nothing to do"
  exit 0
fi
rm -rf node_modules {{q .Manifest}}
# npm runs as the instance user, so node_modules and the npm cache in its
# home (kept warm for node-carnivore) belong to it.
as_user() {
  runuser -u {{q .User}} -- env HOME={{q .Home}} PATH="$PATH" \
    ${http_proxy:+http_proxy="$http_proxy"} ${https_proxy:+https_proxy="$https_proxy"} \
    ${no_proxy:+no_proxy="$no_proxy"} ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"} \
{{- if .Npmrc}}
    npm_config_userconfig={{q .Npmrc}} \
{{- end}}
{{- if .Registry}}
    npm_config_registry={{q .Registry}} \
{{- end}}
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false "$@"
}
{{- if .LockfileName}}
as_user npm ci --omit=dev
{{- else}}
echo "no lockfile: npm install resolves versions now"
as_user npm install --omit=dev --no-package-lock
{{- end}}
# The manifest is written by node itself, so it is always valid JSON.
as_user env LOCKFILE={{q .LockfileName}} LOCK_SHA={{q .LockSHA}} PACKAGE_SHA={{q .PackageSHA}} \
  PLUGIN_VERSION={{q .PluginVersion}} node -e '
const fs = require("fs");
const { execFileSync } = require("child_process");
const m = {
  lockfile: process.env.LOCKFILE || null,
  lockfile_sha256: process.env.LOCK_SHA || null,
  package_json_sha256: process.env.PACKAGE_SHA,
  node_version: process.version,
  npm_version: execFileSync("npm", ["--version"]).toString().trim(),
  created: new Date().toISOString(),
  plugin_version: process.env.PLUGIN_VERSION,
};
fs.writeFileSync("manifest.json.tmp", JSON.stringify(m, null, 2) + "\n");
fs.renameSync("manifest.json.tmp", "manifest.json");
'
cat {{q .Manifest}}
echo "$(ls node_modules | wc -l) packages in $dir/node_modules"
