# A package is missing when it is not installed, or, pinned to a version
# (name=VERSION), installed at another one. One pinned to a release
# (name/RELEASE) always goes to apt, which installs that release's version
# or leaves it as it is.
installed() {
  dpkg-query -W -f '${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'
}
missing=
for p in {{qall .Packages}}; do
  name=${p%%[=/]*}
  have=$(installed "$name")
  case $p in
  *=*) [ "$have" = "${p#*=}" ] || missing="$missing $p" ;;
  */*) missing="$missing $p" ;;
  *) [ -n "$have" ] || missing="$missing $p" ;;
  esac
done
if [ -z "$missing" ]; then
  echo "already installed: "{{qall .Packages}}
  exit 0
fi
echo "installing:$missing"
{{- range .Debconf}}
echo {{q .}} | debconf-set-selections
{{- end}}
# $missing holds names validated to Debian's package-name grammar: no
# spaces or shell characters, so splitting it on spaces is exact. A pin may
# be older than what is installed: --allow-downgrades lets apt honour it.
apt_install --allow-downgrades $missing
# apt may keep another version (held, or a dependency wins): say so.
for p in $missing; do
  case $p in
  *=*)
    have=$(installed "${p%%=*}")
    if [ "$have" != "${p#*=}" ]; then
      echo "package ${p%%=*}: version ${p#*=} was asked for, but ${have:-none} is installed" >&2
      exit 1
    fi
    ;;
  esac
done
