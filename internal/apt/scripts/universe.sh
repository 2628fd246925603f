# Ubuntu ships these packages in universe. Sources are one-line
# ("deb URI suite main universe") or deb822 ("Components: main universe").
if grep -rhsE '^[[:space:]]*(deb[[:space:]]|Components:)' /etc/apt/sources.list /etc/apt/sources.list.d/ | grep -qw universe; then
  echo "universe is enabled"
else
  echo {{q .Message}} >&2
  exit 1
fi
