# Remove certificates an earlier build installed that are no longer configured.
keep=" {{range .Certs}}{{.Name}} {{end}}"
for f in {{q .Dir}}/*.crt; do
  case "$keep" in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
done
update-ca-certificates
# Node.js reads only its own CA list unless told; pam_env applies this to
# every login session. Rewritten, never appended twice.
touch /etc/environment
grep -v '^NODE_EXTRA_CA_CERTS=' /etc/environment > /etc/environment.node-primal-tmp || true
echo 'NODE_EXTRA_CA_CERTS='{{q .Bundle}} >> /etc/environment.node-primal-tmp
chmod --reference=/etc/environment /etc/environment.node-primal-tmp
mv -f /etc/environment.node-primal-tmp /etc/environment
