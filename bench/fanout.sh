#!/usr/bin/env bash
# Fan-out rows of `make bench` (bench/run.sh runs this last; it also runs alone): one message to
# 1,000 and to 10,000 subscribers of one topic on one broadcast_server (handlers inline), and to
# 1,000 subscribers spread over two broadcast_servers sharing a Redis. Prints deliveries per second
# and the servers' CPU time per delivery (user + system, the two servers' summed in the Redis row;
# Redis' own CPU not counted) for each; one JSON line per row goes to build/bench/fanout.jsonl.
#
#   BENCH_FANOUT_DELIVERIES=4000000   per row: messages = deliveries / subscribers (enough server
#                                     CPU time for /proc's 10 ms ticks to be a small error)
#   BENCH_FANOUT_SIZE=16        payload bytes
#   BENCH_FANOUT_WINDOW=4       messages ahead of the slowest subscriber
#   BENCH_FANOUT_SUBS="1000 10000"   the one-server rows
#   BENCH_FANOUT_REDIS_SUBS=1000     the Redis row (0: none; needs redis-server and hiredis)
#   BENCH_PORT=19300, BENCH_SERVER_CPU=0 BENCH_LOAD_CPU=1, WSC_BENCH_BIN=build/bin
set -u
cd "$(dirname "$0")/.."
BIN=${WSC_BENCH_BIN:-build/bin}
DELIVERIES=${BENCH_FANOUT_DELIVERIES:-4000000}
SIZE=${BENCH_FANOUT_SIZE:-16}
WINDOW=${BENCH_FANOUT_WINDOW:-4}
SUBS=${BENCH_FANOUT_SUBS:-"1000 10000"}
REDIS_SUBS=${BENCH_FANOUT_REDIS_SUBS:-1000}
PORT=${BENCH_PORT:-19300}
OUT_DIR=build/bench
JSONL=$OUT_DIR/fanout.jsonl
mkdir -p "$OUT_DIR"
: >"$JSONL"

PIDS=()
TMP=$(mktemp -d)
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

ulimit -n "$(ulimit -Hn)" 2>/dev/null
PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "${BENCH_SERVER_CPU:-0}")
    PIN_LOAD=(taskset -c "${BENCH_LOAD_CPU:-1}")
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
    for _ in $(seq 200); do port_open "$1" && return 0; sleep 0.05; done
    return 1
}

# start_server PORT [ARGS...]: a broadcast_server, handlers inline; sets SERVER_PID.
start_server() {
    local port=$1; shift
    "${PIN_SERVER[@]}" "$BIN/broadcast_server" --port "$port" --threads 0 "$@" \
        >/dev/null 2>>"$TMP/servers.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$port" || { echo "fanout: broadcast_server did not start on $port" >&2; exit 1; }
}

row() { # row LABEL SUBSCRIBERS FANOUT-ARGS...
    local label=$1 n=$2; shift 2
    local line msgs=$((DELIVERIES / n > 0 ? DELIVERIES / n : 1))
    line=$("${PIN_LOAD[@]}" "$BIN/fanout" --label "$label" --subs "$n" --size "$SIZE" --messages "$msgs" \
        --window "$WINDOW" --json "$@") || { echo "  $label: failed" >&2; status=1; return; }
    echo "$line" >>"$JSONL"
    awk -v l="$line" 'BEGIN {
        match(l, /"deliveries_per_s":[0-9.]+/); r = substr(l, RSTART + 19, RLENGTH - 19)
        match(l, /"server_cpu_ns_per_delivery":[-0-9.]+/); c = substr(l, RSTART + 29, RLENGTH - 29)
        match(l, /"label":"[^"]*"/); n = substr(l, RSTART + 9, RLENGTH - 10)
        printf "  %-36s %12.0f deliveries/s %8.1f ns server CPU per delivery\n", n, r, c }'
}

status=0
echo "fan-out: $DELIVERIES deliveries of $SIZE B per row, at most $WINDOW messages ahead of the slowest subscriber"
start_server "$PORT"
for n in $SUBS; do
    row "1 server, $n subscribers" "$n" --port "$PORT" --server-pid "$SERVER_PID"
done

if [ "$REDIS_SUBS" -gt 0 ]; then
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "  redis row skipped: no redis-server"
    else
        rport=$((PORT + 1)) a=$((PORT + 2)) b=$((PORT + 3))
        redis-server --port "$rport" --bind 127.0.0.1 --dir "$TMP" --save '' --appendonly no \
            --daemonize no >/dev/null 2>&1 &
        PIDS+=($!)
        wait_port "$rport" || { echo "fanout: redis-server did not start" >&2; exit 1; }
        if ! start_server "$a" --redis "redis://127.0.0.1:$rport" 2>/dev/null ||
           grep -q "no Redis support" "$TMP/servers.log"; then
            echo "  redis row skipped: broadcast_server built without hiredis"
        else
            pa=$SERVER_PID
            start_server "$b" --redis "redis://127.0.0.1:$rport"
            row "2 servers + redis, $REDIS_SUBS subscribers" "$REDIS_SUBS" --port "$a" --port2 "$b" \
                --server-pid "$pa" --server-pid "$SERVER_PID"
        fi
    fi
fi
echo "raw results: $JSONL"
exit $status
