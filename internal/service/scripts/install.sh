manager={{q .Manager}}
if [ "$manager" = auto ]; then
  if [ -d /run/systemd/system ]; then manager=systemd; else manager=sysvinit; fi
fi
echo "service manager: $manager"
case $manager in
systemd)
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
