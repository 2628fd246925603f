rel=$(cat {{q .Incoming}})
{{- if .Hit}}
echo "reusing "{{q .Precache}}"/node_modules: no registry request"
rm -rf "$rel/node_modules"
as_user cp -a {{q .Precache}}/node_modules "$rel/node_modules"
{{- else}}
echo "installing with npm, its cache warm from the base image"
cd "$rel"
{{- if .HasLockfile}}
npm_deps ci --omit=dev --prefer-offline
{{- else}}
npm_deps install --omit=dev --no-package-lock --prefer-offline
{{- end}}
{{- end}}
echo "$(ls "$rel/node_modules" 2>/dev/null | wc -l) packages in $rel/node_modules"
