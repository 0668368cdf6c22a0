#!/usr/bin/env bash
# Runs cargo-mutants over files of the core, each with the tests that exercise it, on a copy of
# the committed tree, and prints cargo-mutants' summary. Not part of CI: on 2 cores a file
# takes 10-40 minutes (about 12 s a mutant).
#
#   scripts/mutants.sh FILE [FILE...] [-- CARGO-MUTANTS-ARGS...]
#   scripts/mutants.sh src/connection/recv.rs -- --re 'Receiver::reserve'
#   scripts/mutants.sh src/connection/recv.rs -- --iterate   # only what was missed last time
#
# The copy is `git archive HEAD` (so commit what you want tested) in $MUTANTS_DIR
# (default /tmp/rfc6455-mutants), with its own target directory: the working tree and its
# build are left alone, and cargo-mutants' report lands in $MUTANTS_DIR/mutants.out
# (missed.txt, caught.txt, timeout.txt, unviable.txt). A later run with `--iterate` refreshes
# the copy's sources but keeps that report.
#
# Every feature is on (`--all-features`), so feature-gated code (`http`, `deflate`) is
# mutated and tested too. The tests: the lib tests, and the integration tests of the area the
# file belongs to (below); doctests are not run by cargo-mutants.
#
# Reading the result: a missed mutant is a change of the code that no test saw. Either a test
# is missing (write it, then check by hand that it fails on that mutant), or the mutant is
# equivalent (it changes speed or allocation only, e.g. the fast receive path, whose mutants
# only `scripts/callgrind.sh` sees): say why in the commit or the issue note.
set -euo pipefail
cd "$(dirname "$0")/.."

files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  files+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
if [ ${#files[@]} -eq 0 ]; then
  echo "usage: $0 FILE [FILE...] [-- CARGO-MUTANTS-ARGS...]" >&2
  exit 2
fi

# The integration tests of each area of the core.
tests_for() {
  case "$1" in
    src/connection/*)
      echo recv_fast_path connection_props hostile alloc_per_message send_into drive_loops deflate deflate_bomb deflate_limits
      ;;
    src/handshake/*) echo handshake_server handshake_props handshake_client deflate ;;
    src/deflate/*) echo deflate deflate_bomb deflate_limits alloc_per_message ;;
    src/frame/* | src/mask.rs | src/utf8.rs) echo prop_mask_utf8 recv_fast_path connection_props ;;
    src/reconnect*) echo reconnect_props ;;
    *) echo connection_props ;;
  esac
}

declare -A wanted=()
for file in "${files[@]}"; do
  if [ ! -f "$file" ]; then
    echo "no such file: $file" >&2
    exit 2
  fi
  for t in $(tests_for "$file"); do wanted[$t]=1; done
done
test_args=(--lib)
for t in "${!wanted[@]}"; do test_args+=(--test "$t"); done

if ! command -v cargo-mutants >/dev/null; then
  cargo install cargo-mutants --locked
fi

dir=${MUTANTS_DIR:-/tmp/rfc6455-mutants}
mkdir -p "$dir"
# Fresh sources from HEAD; the report and the build of an earlier run stay.
find "$dir" -mindepth 1 -maxdepth 1 ! -name mutants.out ! -name target -exec rm -rf {} +
git archive HEAD | tar -x -C "$dir"

file_args=()
for file in "${files[@]}"; do file_args+=(-f "$file"); done
cd "$dir"
echo "cargo mutants on ${files[*]} (HEAD $(git -C "$OLDPWD" rev-parse --short HEAD)), tests: ${test_args[*]}"
CARGO_TARGET_DIR="$dir/target" cargo mutants "${file_args[@]}" --all-features --timeout 120 -j 1 "$@" \
  -- "${test_args[@]}"
