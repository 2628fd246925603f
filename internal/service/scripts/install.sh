{{if eq .Manager "systemd" -}}
# One way to start it: the unit. An init script of an earlier build stops
# its process first, so the port is free for the unit's.
if [ -x /etc/init.d/{{q .Name}} ]; then /etc/init.d/{{q .Name}} stop || true; fi
update-rc.d -f {{q .Name}} remove >/dev/null 2>&1 || true
rm -f /etc/init.d/{{q .Name}}
systemctl daemon-reload
systemctl enable {{q .Name}}.service
systemctl restart {{q .Name}}.service
{{else -}}
# One way to start it: the init script. A unit of an earlier build is
# stopped and disabled first.
if [ -f /etc/systemd/system/{{q .Name}}.service ]; then
  if [ -d /run/systemd/system ]; then systemctl disable --now {{q .Name}}.service || true; fi
  rm -f /etc/systemd/system/{{q .Name}}.service
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
update-rc.d {{q .Name}} defaults
/etc/init.d/{{q .Name}} restart
{{end -}}
