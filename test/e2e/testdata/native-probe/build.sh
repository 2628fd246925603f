#!/bin/sh
# The install script: compiles probe.c into build/probe.node with the
# machine's C compiler, against the headers of the Node.js running the
# install (the official release archives carry them in include/node), as
# node-gyp would, without its Python or a headers download.
set -eu
inc=$(node -p 'require("path").resolve(process.execPath, "..", "..", "include", "node")')
test -f "$inc/node_api.h" || { echo "native-probe: no node_api.h in $inc" >&2; exit 1; }
mkdir -p build
cc -shared -fPIC -O1 -I"$inc" -o build/probe.node probe.c
echo "native-probe: built build/probe.node for $(uname -m)"
