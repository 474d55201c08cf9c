# Shell functions shared by the side-by-side benchmark scripts. Source it
# after setting BENCH_NAME (the log prefix and the work directory's name);
# it creates $WORK, sets the EXIT trap that stops the server and removes
# $WORK (unless KEEP_DATA=1), and provides:
#   log, stop_server, free_port, wait_ready, start_server, cpu_ticks,
#   peak_rss_kb.
# Scripts start at most one server at a time and keep its PID in
# $SERVER_PID; only that PID is ever signalled.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/agentmon-$BENCH_NAME.XXXXXX")
SERVER_PID=""

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }

# Stops the server this script started (only that PID): TERM, then KILL.
stop_server() {
    local pid=$SERVER_PID
    [[ -n "$pid" ]] || return 0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_server
    if [[ "${KEEP_DATA:-0}" == 1 ]]; then
        log "kept data and logs in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# First port from $1 upwards that nothing listens on.
free_port() {
    local port=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    echo "$port"
}

# Waits until GET $1 answers 2xx while the server process is alive.
wait_ready() {
    local url=$1 name=$2
    for _ in $(seq 1 600); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited during start-up; its log:"
            tail -n 20 "$WORK/$name.log" >&2 || true
            return 1
        fi
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    log "$name not ready after 60 s"
    return 1
}

# utime + stime of a process, in clock ticks. Fields are counted after the
# parenthesised command name, which may itself contain spaces.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

# Peak resident set size of a process in kB.
peak_rss_kb() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# start_server NAME BINARY READY_PATH FIRST_PORT ARGS...: starts BINARY with
# ARGS ("@PORT@" and "@DATA@" replaced by a free port from FIRST_PORT up and
# by $WORK/NAME-data), logging to $WORK/NAME.log, and waits until
# READY_PATH answers. Sets SERVER_PID, BASE (the server's URL) and DATA;
# returns 1, with the server stopped, if it does not become ready.
start_server() {
    local name=$1 bin=$2 ready=$3 port
    port=$(free_port "$4")
    shift 4
    local args=() arg
    DATA="$WORK/$name-data"
    mkdir -p "$DATA"
    BASE="http://127.0.0.1:$port"
    for arg in "$@"; do
        arg=${arg//@PORT@/$port}
        args+=("${arg//@DATA@/$DATA}")
    done
    log "starting $name on $BASE"
    "$bin" "${args[@]}" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$BASE$ready" "$name" || { stop_server; return 1; }
}
