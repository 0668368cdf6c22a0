#!/usr/bin/env bash
# Network fault scenarios (issue 16, part B) against both servers: rfc6455-tokio's
# (tools/wsfault's `wsfault-echo`) and the core driven by hand over std sockets
# (examples/echo_server.rs).
#
# usage: scripts/faults.sh [--scenarios LIST] [--markdown FILE]
#
#   --scenarios LIST   comma-separated, from `wsfault list` (default: all)
#   --markdown FILE    also append a table row per scenario to FILE
#
# Builds both in release, then runs every scenario against each server (the two servers'
# runs side by side), each scenario on a server started afresh on a free 127.0.0.1 port with
# keepalive 1 s + 1 s, a 2 s handshake timeout and a 256 KiB send bound, and a proxy of its
# own on loopback (tools/wsfault/README.md says what each checks). Prints a PASS/FAIL line per
# scenario and server with the outcome and its time, then `N passed, N failed`; exits
# non-zero if any failed. About a minute after the build; every wait in it is bounded.
#
# Environment: CARGO_TARGET_DIR (default target/), where both builds go; FAULTS_LOG_DIR
# (default a temporary directory) keeps the servers' logs.

set -euo pipefail

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { printf 'faults.sh: %s\n' "$*" >&2; exit 2; }

scenarios=
markdown=
while (($#)); do
    case $1 in
        --scenarios) scenarios=${2?--scenarios needs a value}; shift ;;
        --markdown) markdown=${2?--markdown needs a value}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
start=$SECONDS

printf '==> building (release): examples/echo_server, tools/wsfault\n' >&2
cargo build --quiet --release --example echo_server --target-dir "$target"
cargo build --quiet --release --manifest-path tools/wsfault/Cargo.toml --target-dir "$target"
printf '==> built in %ss\n' "$((SECONDS - start))" >&2

logs=${FAULTS_LOG_DIR:-$(mktemp -d)}
mkdir -p "$logs"
wsfault=$target/release/wsfault
args=()
[[ -n $scenarios ]] && args+=(--scenarios "$scenarios")
[[ -n $markdown ]] && args+=(--markdown "$markdown")

# The two servers' runs go side by side (most of each is waiting on timers and on the
# capped link); each prints its lines to a file, shown in order below.
"$wsfault" run --name tokio --held-input 262144 --log "$logs/tokio-server.log" "${args[@]}" \
    -- "$target/release/wsfault-echo" --max-unread 262144 >"$logs/tokio.out" 2>&1 &
tokio_pid=$!
"$wsfault" run --name std --held-input 0 --log "$logs/std-server.log" "${args[@]}" \
    -- "$target/release/examples/echo_server" --no-deflate >"$logs/std.out" 2>&1 &
std_pid=$!
status=0
wait "$tokio_pid" || status=1
wait "$std_pid" || status=1

passed=0
failed=0
for run in tokio std; do
    grep -v ' passed, .* failed$' "$logs/$run.out" || true
    p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$logs/$run.out")
    f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$logs/$run.out")
    [[ -n $p && -n $f ]] || { echo "faults.sh: the $run run ended without a summary" >&2; status=1; continue; }
    passed=$((passed + p))
    failed=$((failed + f))
done
printf '%s passed, %s failed (%ss in all; logs in %s)\n' "$passed" "$failed" "$((SECONDS - start))" "$logs"
((failed == 0 && status == 0))
