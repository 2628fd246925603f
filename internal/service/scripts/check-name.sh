# The app's service must not take the name of a unit or init script the
# system (or another package) already has: installing it would replace
# that service. Files this plugin wrote carry its mark and may be replaced.
root={{q .Root}}
for f in "$root/lib/systemd/system/{{.Name}}.service" "$root/usr/lib/systemd/system/{{.Name}}.service"; do
  if [ -e "$f" ]; then
    echo "the service name {{.Name}} (app_name-environment) is taken by the system's $f: choose another app_name or environment" >&2
    exit 1
  fi
done
for f in "$root/etc/systemd/system/{{.Name}}.service" "$root/etc/init.d/{{.Name}}"; do
  if [ -e "$f" ] && ! grep -q 'Written by packer-plugin-node' "$f"; then
    echo "the service name {{.Name}} (app_name-environment) is taken by $f, which this plugin did not write: choose another app_name or environment" >&2
    exit 1
  fi
done
echo "service name {{.Name}} is free"
