rel=$(cat {{q .Incoming}})
precache={{q .Precache}}
manifest="$precache/manifest.json"
node=$(/usr/local/bin/node --version)
reason=
if [ -z {{q .LockSHA}} ]; then
  reason="the app has no lockfile"
elif [ ! -f "$manifest" ] || [ ! -d "$precache/node_modules" ]; then
  reason="no precache at $precache"
elif ! grep -q '"lockfile_sha256": "{{.LockSHA}}"' "$manifest"; then
  reason="{{.Lockfile}} differs from the precached one"
elif ! grep -q "\"node_version\": \"$node\"" "$manifest"; then
  reason="the precache was built for another node than $node"
fi
if [ -z "$reason" ]; then
  echo "precache hit: {{.Lockfile}} sha256 {{.LockSHA}} matches $manifest; reusing its node_modules, no registry request"
  runuser -u {{q .User}} -- cp -a "$precache/node_modules" "$rel/node_modules"
  exit 0
fi
echo "precache miss: $reason; installing with npm, its cache warm from the base image"
cd "$rel"
runuser -u {{q .User}} -- env HOME="$(getent passwd {{q .User}} | cut -d: -f6)" PATH="$PATH" \
  ${http_proxy:+http_proxy="$http_proxy"} ${https_proxy:+https_proxy="$https_proxy"} \
  ${no_proxy:+no_proxy="$no_proxy"} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
{{- if .Registry}}
  npm_config_registry={{q .Registry}} \
{{- end}}
  npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
{{- if .Lockfile}}
  npm ci --omit=dev --prefer-offline
{{- else}}
  npm install --omit=dev --no-package-lock --prefer-offline
{{- end}}
echo "$(ls node_modules 2>/dev/null | wc -l) packages in $rel/node_modules"
