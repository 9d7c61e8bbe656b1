#!/usr/bin/env sh
# Register this board with a TVM RPC tracker so `hwnas profile run --device <rpc device>` can use it.
#
#   ./start_rpc_server.sh [--bind ADDR] TRACKER_HOST:PORT KEY [LISTEN_PORT]
#
# TVM RPC has no authentication: whoever reaches the server's port can run any code on this
# board. So the server listens on 127.0.0.1 unless told otherwise; reach it through an SSH
# tunnel (profiling/README.md), or pass --bind with this board's address on a private network
# you trust (--bind 0.0.0.0 listens on every interface).
#
# Needs Python 3 with the TVM runtime (`pip install apache-tvm`, or a runtime-only TVM build).
# The server restarts its session process after every connection; stop it with Ctrl-C.
set -eu
BIND="127.0.0.1"
if [ "${1:-}" = "--bind" ]; then
  if [ $# -lt 2 ]; then
    echo "error: --bind needs an address, e.g. --bind 192.168.1.20" >&2
    exit 2
  fi
  BIND="$2"
  shift 2
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 [--bind ADDR] TRACKER_HOST:PORT KEY [LISTEN_PORT]   e.g. $0 127.0.0.1:9190 raspi4" >&2
  exit 2
fi
TRACKER="$1"
KEY="$2"
PORT="${3:-9090}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import tvm" 2>/dev/null; then
  echo "error: $PYTHON cannot import tvm; install the TVM runtime first (pip install apache-tvm)" >&2
  exit 1
fi
# The tracker learns the board's address from the connection (pass --custom-addr through
# CUSTOM_ADDR when the host must reach the board at another address, e.g. a tunnel's end).
exec "$PYTHON" -m tvm.exec.rpc_server --host "$BIND" --port "$PORT" --port-end "$((PORT + 100))" \
  --tracker "$TRACKER" --key "$KEY" ${CUSTOM_ADDR:+--custom-addr "$CUSTOM_ADDR"}
