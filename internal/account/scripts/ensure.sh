# The instance user. A missing one is made as a system account: no
# password (locked), no login shell, in no group but its own, so no sudo;
# the official Node.js Docker image's `node` user is the model. An
# existing user is left as it is (instance_user = "admin" is the original
# recipe's layout, and its sudo is the documented cost).
u={{q .User}}
home={{q .Home}}
# Debian 13's minimal systems have no nologin (util-linux's, not essential
# there); false refuses a login just as well.
shell={{q .Shell}}
[ -x "$shell" ] || shell=/bin/false
if ! id -u "$u" >/dev/null 2>&1; then
  if getent group "$u" >/dev/null; then
    useradd --system --gid "$u" --create-home --home-dir "$home" --shell "$shell" --comment 'Node.js app (node-primal)' "$u"
  else
    useradd --system --user-group --create-home --home-dir "$home" --shell "$shell" --comment 'Node.js app (node-primal)' "$u"
  fi
  chmod 0711 "$home"
  echo "made the system account $u (home $home)"
else
  echo "$u exists (uid $(id -u "$u")); left as it is"
fi
if [ "$(id -u "$u")" -eq 0 ]; then
  echo "instance_user: $u has uid 0; the app must not run as root" >&2
  exit 1
fi
# nginx's workers reach static files under the home by path.
if [ -z "$(find "$home" -maxdepth 0 -perm -o+x)" ]; then
  chmod o+x "$home"
  echo "made $home traversable (o+x) for nginx's workers"
fi
