#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for rfc6455.
#
# usage: scripts/autobahn.sh [server|client|all] [--impl tokio|core] [--cases LIST]
#                            [--exclude LIST] [--allow-unimplemented LIST] [--timeout SECONDS]
#
#   server  wstest's fuzzing client against our server             -> reports/IMPL/server/
#   client  our client against wstest's fuzzing server              -> reports/IMPL/client/
#   all     both (the default)
#
# IMPL is what runs the protocol:
#   tokio   rfc6455-tokio's WebSocket: rfc6455-tokio/examples/autobahn.rs (the default)
#   core    the core driven by hand over std sockets: examples/echo_server.rs and
#           examples/autobahn_client.rs
#
# LISTs are comma-separated Autobahn case patterns, e.g. '1.*,2.*,7.1.*'.
#
# Environment (flags win over it):
#   AUTOBAHN_IMPL                 tokio or core (default tokio)
#   AUTOBAHN_CASES                cases to run (default '*')
#   AUTOBAHN_EXCLUDE              cases to skip (default none), e.g. '12.*,13.*'
#   AUTOBAHN_ALLOW_UNIMPLEMENTED  cases where UNIMPLEMENTED still passes (default none)
#   AUTOBAHN_TIMEOUT              seconds allowed per role (default 1800)
#   AUTOBAHN_PARALLEL             1: with `all`, run both roles at once (default: 1 on 2+ cores)
#   AUTOBAHN_SERVER_CMD           server under test, run as `CMD 127.0.0.1:PORT`
#                                 (default: IMPL's, built in release)
#   AUTOBAHN_CLIENT_CMD           client under test, run as `CMD ws://127.0.0.1:PORT AGENT`
#                                 (default: IMPL's, built in release)
#                                 Both are split on whitespace; with both set, nothing is built.
#   AUTOBAHN_SERVER_PORT, AUTOBAHN_CLIENT_PORT   fixed ports (default: free ones)
#   AUTOBAHN_PYTHON2              Python 2.7 to install wstest with
#                                 (default $(pyenv root)/versions/2.7.18/bin/python)
#
# wstest is installed on first use into .autobahn/ (git-ignored). Everything listens on
# 127.0.0.1 only. Prints one summary line per role,
#   autobahn server: N ok, N non-strict, N informational, N unimplemented, N failed of N
# plus the failing cases and the time taken, and exits non-zero unless every case is OK or
# INFORMATIONAL (or UNIMPLEMENTED where allowed). Progress and diagnostics go to stderr;
# the full wstest and peer logs are kept next to each report.

set -euo pipefail

AUTOBAHN_VERSION=25.10.1

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'autobahn.sh: %s\n' "$*" >&2; exit 2; }

role=all
impl=${AUTOBAHN_IMPL:-tokio}
cases=${AUTOBAHN_CASES:-*}
exclude=${AUTOBAHN_EXCLUDE:-}
allow_unimplemented=${AUTOBAHN_ALLOW_UNIMPLEMENTED:-}
role_timeout=${AUTOBAHN_TIMEOUT:-1800}
# Run the two roles at once (`all` only) when there are at least two cores.
parallel=${AUTOBAHN_PARALLEL:-$( (($(nproc) >= 2)) && echo 1 || echo 0)}
while (($#)); do
    case $1 in
        server | client | all) role=$1 ;;
        --impl) impl=${2?--impl needs a value}; shift ;;
        --cases) cases=${2?--cases needs a value}; shift ;;
        --exclude) exclude=${2?--exclude needs a value}; shift ;;
        --allow-unimplemented) allow_unimplemented=${2?--allow-unimplemented needs a value}; shift ;;
        --timeout) role_timeout=${2?--timeout needs a value}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done
case $impl in
    tokio) AGENT=rfc6455-tokio ;;
    core) AGENT=rfc6455 ;;
    *) die "--impl must be tokio or core: $impl" ;;
esac
[[ $role_timeout =~ ^[1-9][0-9]*$ ]] || die "timeout must be a whole number of seconds: $role_timeout"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$root/.autobahn/venv

# Background processes (each wrapped in `timeout`) to stop on any exit.
background=()
cleanup() {
    local pid
    for pid in "${background[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${background[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget() {
    local rest=() p
    for p in "${background[@]}"; do
        [[ $p == "$1" ]] || rest+=("$p")
    done
    background=("${rest[@]}")
}

# Stops one background process started by this script (TERM, then KILL after 5 s).
stop() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# Runs a command to completion and returns its status. It runs in the background with the
# script waiting on it because bash defers traps until a foreground command ends, and an
# interrupted run must still clean up at once.
run() {
    "$@" &
    local pid=$! status=0
    background+=("$pid")
    wait "$pid" || status=$?
    forget "$pid"
    return "$status"
}

install_wstest() {
    if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c \
        "import sys, autobahntestsuite as a; sys.exit(a.__version__ != '$AUTOBAHN_VERSION')" 2>/dev/null; then
        return
    fi
    local py2=${AUTOBAHN_PYTHON2:-}
    if [[ -z $py2 ]]; then
        local pyenv_root
        pyenv_root=$(pyenv root 2>/dev/null) || pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
        py2=$pyenv_root/versions/2.7.18/bin/python
    fi
    [[ -x $py2 ]] || die "Python 2.7 not found at $py2 (set AUTOBAHN_PYTHON2)"
    log "installing autobahntestsuite $AUTOBAHN_VERSION into .autobahn/ (about a minute)"
    mkdir -p .autobahn
    local install_log=.autobahn/install.log
    {
        if ! "$py2" -m virtualenv --version >/dev/null 2>&1; then
            "$py2" -m pip install 'virtualenv<20.22'
        fi
        rm -rf "$venv"
        "$py2" -m virtualenv "$venv"
        "$venv/bin/pip" install "autobahntestsuite==$AUTOBAHN_VERSION"
    } >"$install_log" 2>&1 || {
        tail -n 30 "$install_log" >&2
        die "wstest install failed; full log in $install_log"
    }
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:PORT accepts TCP; fails early if process PID has exited.
wait_for_port() {
    local port=$1 pid=$2 what=$3 logfile=$4 i
    for i in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logfile" >&2
            log "$what exited before listening on 127.0.0.1:$port (log: $logfile)"
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2
    log "$what did not listen on 127.0.0.1:$port within 30 s (log: $logfile)"
    return 1
}

# Writes a wstest spec: write_spec FILE KEY JSON-VALUE (the role-specific part).
write_spec() {
    SPEC_FILE=$1 SPEC_KEY=$2 SPEC_VALUE=$3 OUTDIR=$4 CASES=$cases EXCLUDE=$exclude python3 - <<'PY'
import json, os
split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
spec = {
    "outdir": os.environ["OUTDIR"],
    os.environ["SPEC_KEY"]: json.loads(os.environ["SPEC_VALUE"]),
    "cases": split(os.environ["CASES"]),
    "exclude-cases": split(os.environ["EXCLUDE"]),
    "exclude-agent-cases": {},
}
with open(os.environ["SPEC_FILE"], "w") as f:
    json.dump(spec, f, indent=2)
PY
}

# Runs the summary for ROLE; prints its lines, returns its status.
summarize() {
    local role=$1 outdir=$2 expected
    expected=$(sed -n 's/^Ok, will run \([0-9]*\) test cases.*/\1/p' "$outdir/wstest.log" 2>/dev/null | head -n 1)
    python3 scripts/autobahn_summary.py "$role" "$outdir/index.json" --agent "$AGENT" \
        --allow-unimplemented "$allow_unimplemented" ${expected:+--expected "$expected"}
}

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

run_server_role() {
    local outdir=$root/reports/$impl/server port status=0 wstest_status=0 server_pid
    port=${AUTOBAHN_SERVER_PORT:-$(free_port)}
    rm -rf "$outdir" && mkdir -p "$outdir"
    write_spec "$outdir/spec.json" servers \
        "[{\"agent\": \"$AGENT\", \"url\": \"ws://127.0.0.1:$port\"}]" "$outdir"

    log "server: ${server_cmd[*]} 127.0.0.1:$port"
    timeout --kill-after=10 "$role_timeout" "${server_cmd[@]}" "127.0.0.1:$port" \
        >"$outdir/echo_server.log" 2>&1 &
    server_pid=$!
    background+=("$server_pid")
    if ! wait_for_port "$port" "$server_pid" "echo server" "$outdir/echo_server.log"; then
        stop "$server_pid"
        summarize "$impl server" "$outdir" || true
        return 1
    fi

    log "server: wstest -m fuzzingclient, cases '$cases', excluded '${exclude:-none}'"
    run timeout --kill-after=10 "$role_timeout" "$venv/bin/python" -u scripts/autobahn/wstest_loopback.py \
        -m fuzzingclient -s "$outdir/spec.json" >"$outdir/wstest.log" 2>&1 || wstest_status=$?
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" 2>/dev/null || status=$?
        log "server: the echo server exited during the run (status $status); see $outdir/echo_server.log"
        status=1
    fi
    stop "$server_pid"
    if ((wstest_status == 124)); then
        log "server: wstest timed out after $role_timeout s"
        status=1
    elif ((wstest_status != 0)); then
        log "server: wstest exited with status $wstest_status; see $outdir/wstest.log"
        status=1
    fi
    summarize "$impl server" "$outdir" || status=1
    return "$status"
}

run_client_role() {
    local outdir=$root/reports/$impl/client port status=0 client_status=0 wstest_pid i
    port=${AUTOBAHN_CLIENT_PORT:-$(free_port)}
    rm -rf "$outdir" && mkdir -p "$outdir"
    write_spec "$outdir/spec.json" url "\"ws://127.0.0.1:$port\"" "$outdir"

    log "client: wstest -m fuzzingserver on 127.0.0.1:$port, cases '$cases', excluded '${exclude:-none}'"
    # --webport 0: no report web server (it would listen on every interface).
    timeout --kill-after=10 "$role_timeout" "$venv/bin/python" -u scripts/autobahn/wstest_loopback.py \
        -m fuzzingserver -s "$outdir/spec.json" --webport 0 >"$outdir/wstest.log" 2>&1 &
    wstest_pid=$!
    background+=("$wstest_pid")
    if ! wait_for_port "$port" "$wstest_pid" "wstest fuzzingserver" "$outdir/wstest.log"; then
        stop "$wstest_pid"
        summarize "$impl client" "$outdir" || true
        return 1
    fi

    log "client: ${client_cmd[*]} ws://127.0.0.1:$port $AGENT"
    run timeout --kill-after=10 "$role_timeout" "${client_cmd[@]}" "ws://127.0.0.1:$port" "$AGENT" \
        >"$outdir/autobahn_client.log" 2>&1 || client_status=$?
    if ((client_status == 124)); then
        log "client: the client timed out after $role_timeout s"
        status=1
    elif ((client_status != 0)); then
        log "client: the client exited with status $client_status; see $outdir/autobahn_client.log"
        status=1
    fi
    # wstest writes the reports before it answers /updateReports; allow a moment anyway.
    for i in $(seq 20); do
        [[ -f $outdir/index.json ]] && break
        sleep 0.1
    done
    stop "$wstest_pid"
    summarize "$impl client" "$outdir" || status=1
    return "$status"
}

# The peers under test, and the examples to build for them (release).
if [[ $impl == tokio ]]; then
    package=rfc6455-tokio
    default_server=("$root/target/release/examples/autobahn" server) server_example=autobahn
    default_client=("$root/target/release/examples/autobahn" client) client_example=autobahn
else
    package=rfc6455
    default_server=("$root/target/release/examples/echo_server") server_example=echo_server
    default_client=("$root/target/release/examples/autobahn_client") client_example=autobahn_client
fi
need_build=()
if [[ -n ${AUTOBAHN_SERVER_CMD:-} ]]; then
    read -r -a server_cmd <<<"$AUTOBAHN_SERVER_CMD"
else
    server_cmd=("${default_server[@]}")
    [[ $role == client ]] || need_build+=(--example "$server_example")
fi
if [[ -n ${AUTOBAHN_CLIENT_CMD:-} ]]; then
    read -r -a client_cmd <<<"$AUTOBAHN_CLIENT_CMD"
else
    client_cmd=("${default_client[@]}")
    [[ $role == server || $client_example == "$server_example" && ${#need_build[@]} -gt 0 ]] ||
        need_build+=(--example "$client_example")
fi

install_wstest
if ((${#need_build[@]})); then
    log "building ${need_build[*]} of $package (release)"
    cargo build --release -p "$package" "${need_build[@]}"
fi
mkdir -p "reports/$impl"

failed=0
run_and_time() {
    local r=$1 started status=0
    started=$(now)
    "run_${r}_role" || status=1
    echo "autobahn $r took $(elapsed_since "$started") s"
    return "$status"
}

if [[ $role == all && $parallel == 1 ]]; then
    # wstest is single-threaded Python and is the bottleneck: on two or more cores both roles
    # run at once, each in a subshell that cleans up its own peers, with its output kept apart
    # and printed in order afterwards.
    pids=()
    for r in server client; do
        (
            background=()
            trap cleanup EXIT
            run_and_time "$r"
        ) >"reports/$impl/$r.out" 2>&1 &
        pids+=("$!")
        background+=("$!")
    done
    for i in 0 1; do
        wait "${pids[$i]}" || failed=1
    done
    cat "reports/$impl/server.out" "reports/$impl/client.out"
else
    for r in server client; do
        [[ $role == all || $role == "$r" ]] || continue
        run_and_time "$r" || failed=1
    done
fi
exit "$failed"
