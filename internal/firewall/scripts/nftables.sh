command -v nft >/dev/null 2>&1 || apt_install nftables
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
