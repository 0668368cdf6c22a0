#!/usr/bin/env bash
# Browser test of rfc6455-tokio/examples/chat in Debian's Chromium, driven by playwright-core
# (no browser download). Installs what is missing (root only: apt-get for chromium, npm for
# playwright-core), builds the chat server once in release, runs scripts/browser/chat_test.mjs,
# and prints one PASS/FAIL line per check and "N passed, N failed". Screenshots and the server's
# log go to target/browser-test/. Bounded in time; loopback only.
#
#   scripts/browser_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole run, installs and build included, is bounded.
if [ -z "${BROWSER_TEST_BOUNDED:-}" ]; then
  BROWSER_TEST_BOUNDED=1 exec timeout --kill-after=10 "${BROWSER_TEST_TIMEOUT:-900}" "$0" "$@"
fi

# The browser test to run (scripts/browser_h2_test.sh picks the HTTP/2 one) and where its
# logs and screenshots go.
TEST_JS="${BROWSER_TEST_JS:-chat_test.mjs}"
OUT="$PWD/target/${BROWSER_TEST_OUT:-browser-test}"
mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT/server.log" "$OUT/server.pid" "$OUT/results.txt"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

node_pid=""
results_counted=""
# Prints the browser test's own PASS/FAIL lines and adds them to the counts.
count_results() {
  [ -f "$OUT/results.txt" ] && [ -z "$results_counted" ] || return 0
  results_counted=1
  cat "$OUT/results.txt"
  passed=$((passed + $(grep -c '^PASS' "$OUT/results.txt" || true)))
  failed=$((failed + $(grep -c '^FAIL' "$OUT/results.txt" || true)))
}
cleanup() {
  # The test's node process and the chat server it started, whatever state they are in.
  if [ -n "$node_pid" ]; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [ -f "$OUT/server.pid" ]; then kill "$(cat "$OUT/server.pid")" 2>/dev/null || true; fi
}
trap cleanup EXIT
interrupted() {
  trap - INT TERM
  cleanup
  node_pid=""
  count_results
  fail "browser test finished in time (interrupted by a signal or the time limit)"
  finish
  exit 124
}
trap interrupted INT TERM

# 1. Chromium from Debian.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian's chromium"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$OUT/apt.log" 2>&1 \
      || { tail -20 "$OUT/apt.log"; }
  fi
fi
# An emoji font, so the screenshot shows the 4-byte characters the test sends (optional).
if [ "$(id -u)" -eq 0 ] && ! fc-list 2>/dev/null | grep -qi emoji; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >>"$OUT/apt.log" 2>&1 || true
fi
if command -v chromium >/dev/null; then
  pass "chromium available ($(chromium --version 2>/dev/null | head -1))"
else
  fail "chromium available (install Debian's chromium package)"
  finish
  exit 1
fi

# 2. playwright-core from npm, pinned by scripts/browser/package-lock.json; never a browser download.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d scripts/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core"
  (cd scripts/browser && npm ci --no-audit --no-fund --loglevel=error) >"$OUT/npm.log" 2>&1 || tail -20 "$OUT/npm.log"
fi
if [ -d scripts/browser/node_modules/playwright-core ]; then
  pass "playwright-core installed"
else
  fail "playwright-core installed"
  finish
  exit 1
fi

# 3. The chat server (the tokio adapter's axum example), built once, in release, with
#    permessage-deflate, HTTP/2 and TLS (its --tls mode). It lands in CARGO_TARGET_DIR when
#    that is set.
start=$SECONDS
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$PWD/$TARGET_DIR" ;; esac
if cargo build --release -p rfc6455-tokio --example chat --features axum,http2,rustls 2>"$OUT/build.log"; then
  pass "chat example builds in release ($((SECONDS - start)) s)"
else
  tail -30 "$OUT/build.log"
  fail "chat example builds in release"
  finish
  exit 1
fi

# 4. The browser test proper.
set +e
CHAT_BIN="$TARGET_DIR/release/examples/chat" OUT_DIR="$OUT" \
  timeout --kill-after=5 240 node "scripts/browser/$TEST_JS" >"$OUT/results.txt" 2>&1 &
node_pid=$!
wait "$node_pid"
status=$?
node_pid=""
set -e
count_results
if [ "$status" -ne 0 ] && ! grep -q '^FAIL' "$OUT/results.txt"; then
  fail "browser test exited with status $status"
fi
if [ "$failed" -gt 0 ]; then
  echo "--- last lines of the chat server's log ($OUT/server.log)"
  tail -20 "$OUT/server.log" 2>/dev/null || true
fi
finish
