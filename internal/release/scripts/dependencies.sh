rel=$(cat {{q .Incoming}})
# A failed install (a registry down, a full disk) leaves no half release
# behind; the live release is never touched.
trap 'rc=$?; if [ "$rc" -ne 0 ] && [ -n "$rel" ] && [ "$(readlink -f {{q .Current}})" != "$rel" ]; then rm -rf "$rel"; rm -f {{q .Incoming}}; echo "removed the unfinished release $rel" >&2; fi' EXIT
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
{{- if .Audit}}
{{.Audit}}
{{- end}}
{{- end}}
echo "$(ls "$rel/node_modules" 2>/dev/null | wc -l) packages in $rel/node_modules"
