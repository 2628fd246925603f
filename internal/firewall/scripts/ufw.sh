# ufw is enabled: the redirect goes into ufw's own rules, which ufw loads
# at boot, instead of nftables.conf (whose "flush ruleset" would wipe ufw's
# rules) or iptables-persistent (which would remove ufw). Our block is
# replaced, never added twice, and the rest of before.rules is kept.
rules=/etc/ufw/before.rules
begin='# BEGIN node-primal redirect'
end='# END node-primal redirect'
tmp=$(mktemp "$rules.node-primal.XXXXXX")
{
  cat <<'RULES'
# BEGIN node-primal redirect (packer-plugin-node; replaced on every build)
# Only packets addressed to this machine: routed traffic passes untouched.
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
-A OUTPUT -o lo -p tcp --dport {{.From}} -j REDIRECT --to-ports {{.To}}
COMMIT
# END node-primal redirect
RULES
  awk -v b="$begin" -v e="$end" 'index($0, b) == 1 { skip = 1 } !skip { print } index($0, e) == 1 { skip = 0 }' "$rules"
} > "$tmp"
chmod --reference="$rules" "$tmp"
chown --reference="$rules" "$tmp"
mv -f "$tmp" "$rules"
# ufw filters after the redirect, so it must let the redirected port in:
# clients reach {{.From}}, which arrives as {{.To}}.
ufw allow {{.To}}/tcp comment 'node-primal: nginx behind the :{{.From}} redirect'
ufw reload
iptables -t nat -S | grep -- '--to-ports {{.To}}'
