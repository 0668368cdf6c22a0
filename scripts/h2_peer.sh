#!/usr/bin/env bash
# Our HTTP/2 WebSocket client (RFC 8441) against a server nobody here wrote: Python's hypercorn
# (scripts/h2peer/requirements.txt pins it) running an ASGI echo app (scripts/h2peer/echo_app.py),
# over TLS with ALPN h2 (a throwaway certificate made by openssl) and over h2c (HTTP/2 in
# cleartext with prior knowledge). The client is rfc6455-tokio/examples/h2_client.rs: several
# WebSockets on one connection, 0 B to 1 MiB text and binary, fragments, Ping, deflate, Close.
# Installs hypercorn into a venv at .interop/h2-venv (git-ignored), prints one PASS/FAIL line
# per check and "N passed, N failed"; exits non-zero on a failure. Bounded in time
# (H2_PEER_TIMEOUT seconds, install and build included); loopback only. Honours CARGO_TARGET_DIR.
#
#   scripts/h2_peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${H2_PEER_BOUNDED:-}" ]; then
  H2_PEER_BOUNDED=1 exec timeout --kill-after=10 "${H2_PEER_TIMEOUT:-600}" "$0" "$@"
fi

ROOT="$PWD"
VENV="$ROOT/.interop/h2-venv"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/h2-peer"
mkdir -p "$OUT"
rm -f "$OUT"/*.log

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
interrupted() {
  trap - INT TERM
  cleanup
  server_pid=""
  fail "h2 peer run finished in time (interrupted by a signal or the time limit; logs in $OUT)"
  finish
  exit 124
}
trap interrupted INT TERM

# 1. hypercorn in a venv, at the pinned version.
pinned="$(sed -n 's/^hypercorn==\([^ ]*\).*/\1/p' scripts/h2peer/requirements.txt)"
have="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("hypercorn"))' 2>/dev/null || true)"
if [ "$have" != "$pinned" ]; then
  echo "installing hypercorn $pinned into $VENV"
  {
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then python3 -m venv --clear "$VENV"; fi \
      && "$VENV/bin/python" -m pip install --disable-pip-version-check -r scripts/h2peer/requirements.txt
  } >"$OUT/pip.log" 2>&1 || tail -20 "$OUT/pip.log"
  have="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("hypercorn"))' 2>/dev/null || true)"
fi
if [ "$have" = "$pinned" ]; then
  pass "hypercorn $have installed ($("$VENV/bin/python" --version))"
else
  fail "hypercorn $pinned installed (found '${have}'; see $OUT/pip.log)"
  finish
  exit 1
fi

# 2. A certificate for localhost and 127.0.0.1, for this run only.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" >"$OUT/openssl.log" 2>&1; then
  pass "throwaway TLS certificate made"
else
  fail "throwaway TLS certificate made (see $OUT/openssl.log)"
  finish
  exit 1
fi

# 3. Our client, in the dev profile the workspace tests already built with every feature.
start=$SECONDS
if cargo build --quiet -p rfc6455-tokio --all-features --example h2_client 2>"$OUT/build.log"; then
  pass "h2_client builds ($((SECONDS - start)) s)"
else
  tail -30 "$OUT/build.log"
  fail "h2_client builds"
  finish
  exit 1
fi
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
CLIENT="$TARGET/debug/examples/h2_client"

# 4. hypercorn on two free ports: TLS (ALPN h2, http/1.1) and cleartext (h2c).
ports="$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
read -r tls_port plain_port <<<"$ports"
(cd scripts/h2peer && exec "$VENV/bin/hypercorn" --certfile "$OUT/cert.pem" --keyfile "$OUT/key.pem" \
  --bind "127.0.0.1:$tls_port" --insecure-bind "127.0.0.1:$plain_port" --log-level info echo_app:app) \
  >"$OUT/hypercorn.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$plain_port") 2>/dev/null; then
    break
  fi
  sleep 0.1
done

# 5. The client's checks, over TLS and over h2c.
run_client() {
  local label="$1"
  shift
  echo "--- $label"
  set +e
  timeout --kill-after=5 120 "$CLIENT" "$@" >"$OUT/client-$label.log" 2>&1
  local status=$?
  set -e
  sed "s/^\(PASS\|FAIL\): /\1: [$label] /" "$OUT/client-$label.log" | grep -E '^(PASS|FAIL): ' || true
  passed=$((passed + $(grep -c '^PASS' "$OUT/client-$label.log" || true)))
  failed=$((failed + $(grep -c '^FAIL' "$OUT/client-$label.log" || true)))
  if [ "$status" -ne 0 ] && ! grep -q '^FAIL' "$OUT/client-$label.log"; then
    fail "[$label] client exited with status $status (see $OUT/client-$label.log)"
  fi
}
run_client "wss-h2" "wss://localhost:$tls_port/echo" --ca "$OUT/cert.pem"
run_client "h2c" "ws://127.0.0.1:$plain_port/echo"

# 6. hypercorn's side: the WebSockets it served came over HTTP/2.
over_h2="$(grep -c '^websocket: HTTP/2 ' "$OUT/hypercorn.log" || true)"
over_other="$(grep '^websocket: HTTP/' "$OUT/hypercorn.log" | grep -vc '^websocket: HTTP/2 ' || true)"
if [ "$over_h2" -gt 0 ] && [ "$over_other" -eq 0 ]; then
  pass "hypercorn served $over_h2 WebSockets, every one over HTTP/2 ($(grep -m1 '^websocket: HTTP/2 ' "$OUT/hypercorn.log"))"
else
  fail "hypercorn served the WebSockets over HTTP/2 ($over_h2 over HTTP/2, $over_other otherwise; see $OUT/hypercorn.log)"
fi
finish
