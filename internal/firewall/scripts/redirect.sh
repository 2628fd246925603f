backend={{q .Backend}}
if [ "$backend" = auto ]; then
  if command -v iptables >/dev/null 2>&1 && iptables --version 2>/dev/null | grep -q legacy; then
    backend=iptables
  else
    backend=nftables
  fi
  echo "firewall backend: $backend (detected)"
fi
install_pkgs() {
  apt-get -o DPkg::Lock::Timeout={{.LockSeconds}} -q -y --no-install-recommends install "$@"
}
case $backend in
nftables)
  command -v nft >/dev/null 2>&1 || install_pkgs nftables
  conf=/etc/nftables.conf
  if [ ! -f "$conf" ]; then
    printf '#!/usr/sbin/nft -f\n\nflush ruleset\n' > "$conf"
  fi
  if ! grep -qxF 'include "/etc/nftables.d/*.nft"' "$conf"; then
    printf '\n# Added by packer-plugin-node (node-primal).\ninclude "/etc/nftables.d/*.nft"\n' >> "$conf"
  fi
  nft -c -f "$conf"
  # Load only our table now: reloading the whole of nftables.conf would
  # flush rules other software added since boot.
  nft -f {{q .NftFile}}
  if [ -d /run/systemd/system ]; then
    systemctl enable nftables.service
  else
    update-rc.d nftables defaults 2>/dev/null || true
  fi
  nft list table ip {{.Table}}
  ;;
iptables)
  if ! dpkg-query -W -f '${Status}' iptables-persistent 2>/dev/null | grep -q 'ok installed'; then
    echo 'iptables-persistent iptables-persistent/autosave_v4 boolean false' | debconf-set-selections
    echo 'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
    install_pkgs iptables iptables-persistent
  fi
  # Our rules live in our own chains, flushed and refilled on every run; the
  # built-in chains jump to them exactly once.
  for hook in PREROUTING OUTPUT; do
    chain={{.Chain}}_$hook
    iptables -t nat -N "$chain" 2>/dev/null || iptables -t nat -F "$chain"
    iptables -t nat -C "$hook" -j "$chain" 2>/dev/null || iptables -t nat -A "$hook" -j "$chain"
  done
  iptables -t nat -A {{.Chain}}_PREROUTING -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
  iptables -t nat -A {{.Chain}}_OUTPUT -o lo -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
  netfilter-persistent save
  iptables -t nat -S | grep {{.Chain}}
  ;;
*)
  echo "unknown firewall backend $backend" >&2
  exit 1
  ;;
esac
