deadline=$(( $(date +%s) + {{.Seconds}} ))
code=
while :; do
  # node asks, as the image always has it (curl may not be installed).
  # Straight to the machine itself: node's http ignores the build's proxy.
  code=$("$node_bin" -e '
const req = require("http").get(process.argv[1], { timeout: 5000 }, (res) => {
  console.log(res.statusCode);
  res.resume();
});
req.on("timeout", () => req.destroy());
req.on("error", () => {});
' {{q .URL}} 2>/dev/null || true)
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
