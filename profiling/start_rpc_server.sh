#!/usr/bin/env sh
# Register this board with a TVM RPC tracker so `hwnas profile run --device <rpc device>` can use it.
#
#   ./start_rpc_server.sh TRACKER_HOST:PORT KEY [LISTEN_PORT]
#
# Needs Python 3 with the TVM runtime (`pip install apache-tvm`, or a runtime-only TVM build).
# The server restarts its session process after every connection; stop it with Ctrl-C.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 TRACKER_HOST:PORT KEY [LISTEN_PORT]   e.g. $0 192.168.1.10:9190 raspi4" >&2
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
# 0.0.0.0: the host connects back to this board; the tracker learns the address from the connection
# (pass --custom-addr through CUSTOM_ADDR when the board is behind NAT).
exec "$PYTHON" -m tvm.exec.rpc_server --host 0.0.0.0 --port "$PORT" --port-end "$((PORT + 100))" \
  --tracker "$TRACKER" --key "$KEY" ${CUSTOM_ADDR:+--custom-addr "$CUSTOM_ADDR"}
