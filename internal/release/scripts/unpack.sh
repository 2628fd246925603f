# The archive comes on stdin. A terminal there means the communicator
# allocated one (ssh_pty = true), which would mangle the binary stream:
# stop now, saying so, rather than with a gzip error.
if [ -t 0 ]; then
  echo "the app archive cannot be streamed: the step's standard input is a terminal (is ssh_pty = true in the builder? node-carnivore needs it false)" >&2
  exit 1
fi
app={{q .AppDir}}
install -d -o {{q .User}} -g {{q .Group}} -m 0755 "$app" "$app/releases"
rel=$(mktemp -d "$app/releases/$(date -u +%Y%m%dT%H%M%SZ).XXXXXX")
# A failed unpack (a full disk, a stream cut off) leaves no half release
# behind to keep the disk full; the live release is never touched.
trap 'rc=$?; if [ "$rc" -ne 0 ]; then rm -rf "$rel"; echo "removed the unfinished release $rel" >&2; fi' EXIT
chown {{q .User}}:{{q .Group}} "$rel"
chmod 0755 "$rel"
# The archive arrives on stdin, streamed; the user unpacks it, so it owns every file.
as_user tar -xzf - -C "$rel" --no-same-owner
echo "unpacked $(find "$rel" -type f | wc -l) files into $rel"
{{- if .HasEnv}}
# Secrets: uploaded 0600 to the user, moved (never copied) into the release.
mv -f {{q .EnvIncoming}} "$rel/.env.json"
chmod 0600 "$rel/.env.json"
echo "installed .env.json (mode 0600, owner {{.User}})"
{{- end}}
install -d -m 0700 {{q .IncomingDir}}
echo "$rel" > {{q .Incoming}}
