#!/usr/bin/env bash
# Interop of rfc6455-tokio with peers nobody here wrote: Python `websockets` and Node `ws`, each
# as a client of our server and as a server for our client (rfc6455-tokio/tests/interop.rs,
# with the peers in scripts/interop/). Installs the peers, pinned, where git ignores them: a
# venv at .interop/venv (websockets from scripts/interop/requirements.txt) and `npm ci` into
# scripts/interop/node_modules (ws from package-lock.json). Then builds and runs the tests and
# prints one PASS/FAIL line per check, what each peer negotiated, and "N passed, N failed";
# exits non-zero on a failure. Needs Rust, Python 3 with venv and pip, Node and npm. Bounded
# in time (INTEROP_TIMEOUT seconds, installs and build included); loopback only. Honours
# CARGO_TARGET_DIR; the log goes to <target>/interop/.
#
#   scripts/interop.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole run, installs and build included, is bounded.
if [ -z "${INTEROP_BOUNDED:-}" ]; then
  INTEROP_BOUNDED=1 exec timeout --kill-after=10 "${INTEROP_TIMEOUT:-900}" "$0" "$@"
fi

ROOT="$PWD"
PEERS="$ROOT/scripts/interop"
VENV="$ROOT/.interop/venv"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/interop"
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT/negotiated.txt"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
interrupted() {
  trap - INT TERM
  fail "interop run finished in time (interrupted by a signal or the time limit; logs in $OUT)"
  finish
  exit 124
}
trap interrupted INT TERM

# 1. Python websockets in a venv, at the pinned version (reinstalled only when it differs).
pinned_py="$(sed -n 's/^websockets==\([^ ]*\).*/\1/p' "$PEERS/requirements.txt")"
have_py="$("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || true)"
if [ "$have_py" != "$pinned_py" ]; then
  echo "installing websockets $pinned_py into $VENV"
  {
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then python3 -m venv --clear "$VENV"; fi \
      && "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$PEERS/requirements.txt"
  } >"$OUT/pip.log" 2>&1 || tail -20 "$OUT/pip.log"
  have_py="$("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || true)"
fi
if [ "$have_py" = "$pinned_py" ]; then
  pass "python websockets $have_py installed ($("$VENV/bin/python" --version))"
else
  fail "python websockets $pinned_py installed (found '${have_py}'; see $OUT/pip.log)"
fi

# 2. Node ws, at the version package-lock.json pins (npm ci only when it differs).
pinned_js="$(node -p "require('$PEERS/package-lock.json').packages['node_modules/ws'].version" 2>/dev/null || true)"
have_js="$(cd "$PEERS" && node -p "require('ws/package.json').version" 2>/dev/null || true)"
if [ -n "$pinned_js" ] && [ "$have_js" != "$pinned_js" ]; then
  echo "installing ws $pinned_js into $PEERS/node_modules"
  if (cd "$PEERS" && npm ci --no-audit --no-fund) >"$OUT/npm.log" 2>&1; then
    have_js="$(cd "$PEERS" && node -p "require('ws/package.json').version" 2>/dev/null || true)"
  else
    tail -20 "$OUT/npm.log"
  fi
fi
if [ -n "$pinned_js" ] && [ "$have_js" = "$pinned_js" ]; then
  pass "node ws $have_js installed (node $(node --version))"
else
  fail "node ws ${pinned_js:-?} installed (found '${have_js}'; is node on PATH? see $OUT/npm.log)"
fi

if [ "$failed" -ne 0 ]; then
  finish
  exit 1
fi

# 3. Build the tests, then run them (the run alone is bounded too).
TEST=(cargo test -p rfc6455-tokio --all-features --test interop)
if "${TEST[@]}" --no-run >"$OUT/build.log" 2>&1; then
  pass "interop tests built"
else
  tail -30 "$OUT/build.log"
  fail "interop tests built (see $OUT/build.log)"
  finish
  exit 1
fi

started=$SECONDS
set +e
INTEROP_PYTHON="$VENV/bin/python" INTEROP_NODE="$(command -v node)" INTEROP_PEERS="$PEERS" \
  INTEROP_REPORT="$OUT/negotiated.txt" RUST_BACKTRACE=0 \
  timeout --kill-after=5 "${INTEROP_RUN_TIMEOUT:-300}" \
  "${TEST[@]}" -- --include-ignored --test-threads=1 >"$OUT/test.log" 2>&1
status=$?
set -e

# One line per test from the harness's "test NAME ... ok|FAILED".
results=0
while read -r name outcome; do
  results=$((results + 1))
  if [ "$outcome" = ok ]; then pass "$name"; else fail "$name"; fi
done < <(sed -n 's/^test \([^ ]*\) \.\.\. \(ok\|FAILED\)$/\1 \2/p' "$OUT/test.log")
if [ "$status" -ne 0 ] && ! grep -q '^test result: FAILED' "$OUT/test.log"; then
  tail -30 "$OUT/test.log"
  fail "interop test run ended normally (exit $status after $((SECONDS - started)) s; see $OUT/test.log)"
elif [ "$results" -eq 0 ]; then
  fail "interop test run ran some tests (see $OUT/test.log)"
fi
if grep -q '^failures:$' "$OUT/test.log"; then
  echo
  echo "--- failures (from $OUT/test.log)"
  sed -n '/^failures:$/,/^test result:/p' "$OUT/test.log" | head -200
fi

echo
echo "--- what each peer negotiated and saw (test run: $((SECONDS - started)) s)"
cat "$OUT/negotiated.txt" 2>/dev/null || echo "(nothing recorded)"
echo
finish
