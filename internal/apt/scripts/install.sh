missing=
for p in {{qall .Packages}}; do
  name=${p%%[=/]*}
  if [ "$(dpkg-query -W -f '${Status}' "$name" 2>/dev/null)" != "install ok installed" ]; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "already installed: "{{qall .Packages}}
  exit 0
fi
echo "installing:$missing"
# $missing holds names validated to Debian's package-name grammar: no
# spaces or shell characters, so splitting it on spaces is exact.
apt_install $missing
