manager={{q .Manager}}
if [ "$manager" = auto ]; then
  if [ -d /run/systemd/system ]; then manager=systemd; else manager=sysvinit; fi
fi
echo "service manager: $manager"
case $manager in
systemd)
  # One way to start it: the unit, not also the init script.
  update-rc.d -f {{q .Name}} remove >/dev/null 2>&1 || true
  rm -f /etc/init.d/{{q .Name}}
  systemctl daemon-reload
  systemctl enable {{q .Name}}.service
  systemctl restart {{q .Name}}.service
  ;;
sysvinit)
  rm -f /etc/systemd/system/{{q .Name}}.service
  update-rc.d {{q .Name}} defaults
  /etc/init.d/{{q .Name}} restart
  ;;
esac
