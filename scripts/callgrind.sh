#!/usr/bin/env bash
# The instruction-count guard: counts the instructions of the hot paths (receive, send, mask,
# the server handshake) with callgrind and fails when one costs more than 5 % over the
# baseline committed in benches/callgrind/baseline.txt. Instruction counts do not depend on
# the machine's load, so the guard holds on a shared machine where timings do not.
#
#     scripts/callgrind.sh            # build, count, compare with the baseline, print the table
#     scripts/callgrind.sh --update   # count and write the baseline anew (commit it)
#
# Each path runs in a process of its own (benches/callgrind, built in release into
# $CARGO_TARGET_DIR/callgrind, by default target/callgrind), counted only inside one function
# (`callgrind_measured`) and divided by the number of runs, so the setup, the warm-up and the
# process around it do not count. Each path is counted twice, and differing counts fail the
# guard: it must be deterministic.
#
# Counts depend on the compiler, the features and the CPU (the SIMD paths chosen at run time):
# the baseline records all three, and a different rustc or CPU is reported as a warning above
# the table (the comparison still runs; refresh the baseline when the toolchain moves).
#
# Environment: CALLGRIND_TOLERANCE (per cent, default 5), CALLGRIND_CREEP (per cent, default 2:
# paths past it are named in a note, without failing), CALLGRIND_PATHS (a space-separated
# subset of the paths, for a quick look; not with --update).
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=benches/callgrind/baseline.txt
tolerance=${CALLGRIND_TOLERANCE:-5}
creep=${CALLGRIND_CREEP:-2}
update=false
case "${1:-}" in
    --update) update=true ;;
    "") ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }

target_dir=${CARGO_TARGET_DIR:-target}/callgrind
cargo build --quiet --release --locked --manifest-path benches/callgrind/Cargo.toml \
    --target-dir "$target_dir"
bin=$target_dir/release/rfc6455-callgrind

rustc_version=$(rustc --version)
valgrind_version=$(valgrind --version)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
iterations=$("$bin" --iterations)
paths=${CALLGRIND_PATHS:-$("$bin" --list)}
if $update && [[ -n ${CALLGRIND_PATHS:-} ]]; then
    echo "callgrind.sh: --update counts every path; unset CALLGRIND_PATHS" >&2
    exit 2
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Instructions per run of path $1 (one process under callgrind).
count() {
    local file="$out/callgrind.out"
    valgrind --tool=callgrind --collect-atstart=no '--toggle-collect=*callgrind_measured*' \
        --callgrind-out-file="$file" "$bin" "$1" >/dev/null 2>"$out/valgrind.log" || {
        cat "$out/valgrind.log" >&2
        echo "callgrind.sh: $1 failed under valgrind" >&2
        return 1
    }
    local total
    total=$(sed -n 's/^summary: //p' "$file")
    if [[ -z $total || $total -eq 0 ]]; then
        echo "callgrind.sh: no instructions counted for $1 (was callgrind_measured inlined?)" >&2
        return 1
    fi
    echo $(((total + iterations / 2) / iterations))
}

declare -A now
nondeterministic=()
for path in $paths; do
    first=$(count "$path")
    second=$(count "$path")
    [[ $first == "$second" ]] || nondeterministic+=("$path: $first then $second")
    now[$path]=$first
done
if ((${#nondeterministic[@]})); then
    printf 'callgrind.sh: counts differ between two runs of the same binary:\n' >&2
    printf '  %s\n' "${nondeterministic[@]}" >&2
    exit 1
fi

if $update; then
    {
        echo "# Instructions per run of each hot path, counted by scripts/callgrind.sh (benches/callgrind)."
        echo "# Refresh with: scripts/callgrind.sh --update"
        echo "# rustc: $rustc_version"
        echo "# valgrind: $valgrind_version"
        echo "# cpu: $cpu"
        echo "# features: rfc6455 default (std, deflate, simdutf8); release profile"
        for path in $paths; do
            echo "$path ${now[$path]}"
        done
    } >"$baseline"
    echo "wrote $baseline:"
    grep -v '^#' "$baseline"
    exit 0
fi

[[ -f $baseline ]] || { echo "callgrind.sh: no $baseline; make one with --update" >&2; exit 1; }
declare -A base
while read -r path value; do
    [[ -z $path || $path == \#* ]] && continue
    base[$path]=$value
done <"$baseline"
base_rustc=$(sed -n 's/^# rustc: //p' "$baseline")
base_cpu=$(sed -n 's/^# cpu: //p' "$baseline")
if [[ $base_rustc != "$rustc_version" ]]; then
    echo "WARNING: the baseline was counted with '$base_rustc', this run with '$rustc_version':"
    echo "         counts move with the compiler; compare with care, and refresh the baseline"
    echo "         (scripts/callgrind.sh --update) in the commit that moves the toolchain."
fi
if [[ $base_cpu != "$cpu" ]]; then
    echo "WARNING: the baseline was counted on '$base_cpu', this run on '$cpu':"
    echo "         SIMD paths chosen at run time may differ."
fi

failed=()
crept=()
printf '\n| %-40s | %10s | %10s | %8s |\n' path baseline now change
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..12})" \
    "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..10})"
for path in $paths; do
    n=${now[$path]}
    b=${base[$path]:-}
    if [[ -z $b ]]; then
        printf '| %-40s | %10s | %10s | %8s |\n' "$path" - "$n" new
        [[ $path == floor/* ]] || failed+=("$path: no baseline (refresh it with --update)")
        continue
    fi
    # Change in tenths of a per cent, rounded toward zero; the test itself is exact.
    tenths=$(((n - b) * 1000 / b))
    sign=+
    ((n < b)) && sign=-
    abs=${tenths#-}
    change=$(printf '%s%d.%d%%' "$sign" $((abs / 10)) $((abs % 10)))
    note=""
    [[ $path == floor/* ]] && note=" (reference, not guarded)"
    printf '| %-40s | %10d | %10d | %8s |%s\n' "$path" "$b" "$n" "$change" "$note"
    if [[ $path != floor/* ]] && ((n * 100 > b * (100 + tolerance))); then
        failed+=("$path: $b -> $n instructions ($change, more than $tolerance %)")
    elif [[ $path != floor/* ]] && ((n * 100 > b * (100 + creep))); then
        crept+=("$path: $b -> $n instructions ($change)")
    fi
done
echo
echo "Instructions per run of each path (callgrind, ${iterations} runs counted); each path counted twice, identically."

if ((${#failed[@]})); then
    echo
    echo "FAILED: instruction count regression:"
    printf '  %s\n' "${failed[@]}"
    echo "If the cost is intended (and said so in the commit), refresh the baseline:"
    echo "  scripts/callgrind.sh --update"
    exit 1
fi
if ((${#crept[@]})); then
    # Not a failure: each commit may add a little, but small additions add up unseen under the
    # tolerance (recv/binary/16B crept 388 -> 401, +3.4 %, over a few commits before anyone
    # looked). Say which paths are past CALLGRIND_CREEP, so the commit that adds the next bit
    # explains the whole.
    echo "NOTE: more than $creep % over the baseline (within the $tolerance % tolerance):"
    printf '  %s\n' "${crept[@]}"
fi
improved=()
for path in $paths; do
    b=${base[$path]:-}
    [[ -n $b && $path != floor/* ]] && ((now[$path] * 100 < b * (100 - tolerance))) && improved+=("$path")
done
if ((${#improved[@]})); then
    echo "Faster by more than $tolerance % than the baseline: ${improved[*]}; refresh it (--update) to keep the gain."
fi
echo "ok: no path costs more than $tolerance % over the baseline"
