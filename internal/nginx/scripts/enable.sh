if [ -d /run/systemd/system ]; then
  systemctl enable nginx.service
  systemctl start nginx.service
  echo "nginx: $(systemctl is-enabled nginx.service), $(systemctl is-active nginx.service)"
else
  update-rc.d nginx defaults
  service nginx status >/dev/null 2>&1 || service nginx start
fi
