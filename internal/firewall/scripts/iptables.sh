if ! dpkg-query -W -f '${Status}' iptables-persistent 2>/dev/null | grep -q 'ok installed'; then
  echo 'iptables-persistent iptables-persistent/autosave_v4 boolean false' | debconf-set-selections
  echo 'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
  apt_install iptables iptables-persistent
fi
# Our rules live in our own chains, flushed and refilled on every run; the
# built-in chains jump to them exactly once.
for hook in PREROUTING OUTPUT; do
  chain={{.Chain}}_$hook
  iptables -t nat -N "$chain" 2>/dev/null || iptables -t nat -F "$chain"
  iptables -t nat -C "$hook" -j "$chain" 2>/dev/null || iptables -t nat -A "$hook" -j "$chain"
done
# Only packets addressed to this machine: routed traffic passes untouched.
iptables -t nat -A {{.Chain}}_PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
iptables -t nat -A {{.Chain}}_OUTPUT -o lo -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
netfilter-persistent save
iptables -t nat -S | grep {{.Chain}}
