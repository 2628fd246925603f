# The log directory is root's, readable by the adm group, as Debian ships it
# since CVE-2016-1247: whoever owns it could swap a log for a symlink that
# nginx's master process, running as root, would open on the next reopen.
# nginx writes its logs through files its master opens, so the workers'
# user needs no write access here. An earlier build's chown is undone.
install -d -m 0755 -o root -g adm {{q .Dir}}
chown root:adm {{q .Dir}}
chmod 0755 {{q .Dir}}
find {{q .Dir}} -mindepth 1 -maxdepth 1 -type f ! -user root -exec chown root:adm {} +
find {{q .Dir}} -mindepth 1 -maxdepth 1 -type f -exec chmod 0640 {} +
ls -la {{q .Dir}}
