deadline=$(( $(date +%s) + {{.Seconds}} ))
code=
while :; do
  # Straight to the machine itself, never through the build's proxy.
  code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 5 {{q .URL}} || true)
  if [ "$code" = {{.Status}} ]; then
    echo {{q .URL}}" answered {{.Status}}"
    exit 0
  fi
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 1
done
echo {{q .URL}}" did not answer {{.Status}} within {{.Seconds}}s (last answer: ${code:-none})" >&2
echo "--- last lines of the {{.Name}} service's log:" >&2
if [ -d /run/systemd/system ] && [ -f /etc/systemd/system/{{q .Name}}.service ]; then
  journalctl -u {{q .Name}}.service -n 30 --no-pager >&2 || true
else
  tail -n 30 /var/log/{{q .Name}}.log >&2 || true
fi
echo "--- last lines of nginx's error log:" >&2
tail -n 10 /var/log/nginx/error.log >&2 || true
exit 1
