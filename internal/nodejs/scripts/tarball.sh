dir={{q .Dir}}
if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = {{q (printf "v%s" .Version)}} ]; then
  echo "Node.js v{{.Version}} is already installed in $dir"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "downloading "{{q .URL}}
  {{.Fetch}}  got=$(sha256sum "$tmp/node.tar.xz" | cut -d' ' -f1)
  if [ "$got" != {{q .SHA256}} ]; then
    echo "checksum mismatch for "{{q .URL}} >&2
    echo "  expected (SHASUMS256.txt): "{{q .SHA256}} >&2
    echo "  downloaded file:           $got" >&2
    exit 1
  fi
  echo "sha256 $got verified against SHASUMS256.txt"
  rm -rf {{q .Dir}}.partial
  mkdir -p {{q .Dir}}.partial
  tar -xJf "$tmp/node.tar.xz" -C {{q .Dir}}.partial --strip-components=1 --no-same-owner
  rm -rf "$dir"
  mv {{q .Dir}}.partial "$dir"
fi
ln -sfn "$dir" {{q .Root}}/current
for cmd in node npm npx corepack; do
  if [ -e "$dir/bin/$cmd" ]; then
    ln -sfn {{q .Root}}"/current/bin/$cmd" {{q .BinDir}}"/$cmd"
  fi
done
echo "node $("$node_bin" --version), npm $({{q .BinDir}}/npm --version)"
