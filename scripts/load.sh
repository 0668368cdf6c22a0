#!/usr/bin/env bash
# Load, soak, attack and reconnect-storm scenarios (tools/wsload) over loopback.
#
#   scripts/load.sh [--short|--full] [connections|soak|attacks|storm ...] [-- wsload options]
#
# Builds tools/wsload in release into tools/wsload/target (its own workspace and target
# directory; CARGO_TARGET_DIR overrides), runs the scenarios (all four when none is named;
# --short, the CI sizes, by default), and prints PASS/FAIL lines, a summary table and
# "N passed, N failed"; exits non-zero when a check failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/tools/wsload/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/tools/wsload/target}"
size=--short
args=()
for arg in "$@"; do
    case "$arg" in
        --short|--full) size="$arg" ;;
        *) args+=("$arg") ;;
    esac
done
echo "== building tools/wsload (release) into $target"
CARGO_TARGET_DIR="$target" cargo build --release --locked --manifest-path "$manifest"
# The tool's own unit tests (the wire format's checks, wsload-server's accept-rate bucket),
# on the release build above: a few seconds.
CARGO_TARGET_DIR="$target" cargo test --release --locked --quiet --manifest-path "$manifest"
exec "$target/release/wsload" "$size" "${args[@]}"
