for cmd in node npm npx; do
  if [ -x "/usr/bin/$cmd" ]; then
    ln -sfn "/usr/bin/$cmd" "/usr/local/bin/$cmd"
  fi
done
echo "node $(/usr/local/bin/node --version), npm $(/usr/local/bin/npm --version)"
