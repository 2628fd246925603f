# Prelude: every step script starts with these lines (packer-plugin-node).
set -eu
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
{{- if .Ubuntu}}
# Ubuntu's needrestart asks which services to restart after apt upgrades a
# library; unattended, that prompt would hang apt: restart them itself.
export NEEDRESTART_MODE=a
{{- end}}
{{- range .Exports}}
export {{.}}
{{- end}}
{{- if .CABundle}}
# Node.js trusts only its own CA list unless told otherwise: give it the
# system store once ca-certificates has written it.
if [ -r {{q .CABundle}} ]; then export NODE_EXTRA_CA_CERTS={{q .CABundle}}; fi
{{- end}}
instance_user={{q .User}}
instance_home={{q .Home}}
node_bin={{q .Node}}
dpkg_lock_timeout={{.LockSeconds}}

# apt_get ARGS...: apt-get that waits up to dpkg_lock_timeout seconds for the
# dpkg lock (cloud-init and unattended-upgrades hold it at first boot).
apt_get() {
  apt-get -o DPkg::Lock::Timeout="$dpkg_lock_timeout" -q "$@"
}

# apt_install PACKAGE...: installs without recommends, keeping the config
# files the image already has.
apt_install() {
  apt_get -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@"
}

# as_user COMMAND...: runs COMMAND as the instance user with its HOME (set
# by runuser), the build's proxies, Node's CA bundle and npm's settings: the
# registry, and an npmrc when the step sets npm_config_userconfig. They pass
# through the environment, never as arguments, so a proxy's credentials are
# on no command line another process could read.
as_user() (
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
  if [ -n "${npm_config_userconfig:-}" ]; then export npm_config_userconfig; fi
  exec runuser -u "$instance_user" -- "$@"
)

# npm_deps ARGS...: npm ARGS as the instance user in the current directory,
# with the package's own lifecycle scripts (prepare, postinstall, ...) set
# aside while it runs: they belong to the app's development, not to the
# image, and would make a precache miss differ from a hit. Dependencies'
# install scripts (native addons) still run.
npm_deps() {
  if [ -f package.json ]; then
    cp -p package.json .package.json.node-orig
    as_user "$node_bin" -e '
const fs = require("fs");
const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
delete p.scripts;
fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");'
  fi
  npm_rc=0
  as_user npm "$@" || npm_rc=$?
  if [ -f .package.json.node-orig ]; then mv -f .package.json.node-orig package.json; fi
  return $npm_rc
}
# End of the prelude.
