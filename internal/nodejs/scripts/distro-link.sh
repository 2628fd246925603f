for cmd in node npm npx; do
  if [ -x "/usr/bin/$cmd" ]; then
    ln -sfn "/usr/bin/$cmd" {{q .BinDir}}"/$cmd"
  fi
done
echo "node $("$node_bin" --version), npm $({{q .BinDir}}/npm --version)"
