#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS seconds each, one after the
# other, and prints per target the executions and the crashes found, then "N passed, N failed".
# Exits non-zero if any target crashed or failed to run.
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). New inputs libFuzzer
# finds go to fuzz/work/<target>/ (git-ignored), never into the committed seed corpus in
# fuzz/corpus/<target>/, which is only read. Crashes are written to fuzz/artifacts/<target>/;
# to keep one as a regression test, rename it regression-<what> and commit it (it is then
# replayed by `cargo test --test fuzz_replay`). Full logs are in fuzz/work/<target>.log.
#
# Extra libFuzzer flags can be passed through FUZZ_ARGS, e.g. FUZZ_ARGS="-jobs=2 -workers=2".
# FUZZ_KNOWN_ISSUES=name,... looks past findings already reported and awaiting a fix (the
# names are listed at `tolerated` in fuzz/targets.rs); the script says so when it is set.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [TARGET...]" >&2
  exit 2
fi
seconds=$1
shift

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Build once up front so that the build time is not charged to the first target.
if ! cargo +nightly fuzz build >/dev/null 2>fuzz/build.log; then
  cat fuzz/build.log >&2
  echo "0 passed, ${#targets[@]} failed (build failed)"
  exit 1
fi
rm -f fuzz/build.log

if [ -n "${FUZZ_KNOWN_ISSUES:-}" ]; then
  echo "note: tolerating known findings: $FUZZ_KNOWN_ISSUES"
fi

passed=0
failed=0
mkdir -p fuzz/work
for target in "${targets[@]}"; do
  work="fuzz/work/$target"
  log="fuzz/work/$target.log"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  stamp=$(mktemp)
  # -timeout: a single input running 20 s is a finding (a hang or quadratic work).
  # -malloc_limit_mb / -rss_limit_mb: inputs are a few KiB, so an allocation of 64 MiB or a
  # process of 1 GiB means a length claim was trusted.
  # shellcheck disable=SC2086
  cargo +nightly fuzz run "$target" "$work" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=20 -malloc_limit_mb=64 -rss_limit_mb=1024 \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
  status=$?
  # libFuzzer's final statistics; fall back to "Done N runs" or the last "#N" status line.
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n1 | grep -o '[0-9]*$')
  if [ -z "$execs" ]; then
    execs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 | grep -o '[0-9]*')
  fi
  if [ -z "$execs" ]; then
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#')
  fi
  found=$(find "$artifacts" -type f -newer "$stamp" | sort)
  crashes=$(printf '%s' "$found" | grep -c . || true)
  rm -f "$stamp"
  if [ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    verdict=ok
    passed=$((passed + 1))
  else
    verdict="FAILED (exit $status, see $log)"
    failed=$((failed + 1))
  fi
  printf '%-20s %12s executions %4s crashes  %s\n' "$target" "${execs:-?}" "$crashes" "$verdict"
  if [ -n "$found" ]; then
    printf '%s\n' "$found" | sed 's/^/    /'
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
