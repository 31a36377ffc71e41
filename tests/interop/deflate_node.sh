#!/usr/bin/env bash
# Interop, permessage-deflate with Node's ws (Debian's node-ws) in both directions: see
# peers/deflate_node.js. Prints `N passed, N failed` last.
set -u
cd "$(dirname "$0")/../.."
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
if ! command -v node >/dev/null || [ ! -d "$NODE_PATH/ws" ]; then
    echo "node or node-ws missing (apt-get install nodejs node-ws)"
    echo "0 passed, 1 failed"
    exit 1
fi
exec node tests/interop/peers/deflate_node.js
