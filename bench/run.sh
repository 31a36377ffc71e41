#!/usr/bin/env bash
# The benchmark `make bench` runs: wsc's echo server (handlers inline, and on
# the default thread pool), the raw-TCP ceiling and, where installed,
# libwebsockets and Node `ws` echo servers, each under the same load from
# wsc_load, server and load generator pinned to different CPUs. Prints one
# table of medians, each figure with its ratio to the raw-TCP ceiling, then
# the memory an idle connection costs each server. The raw-TCP echo also runs
# in its hand-off mode (tcp_echo --handoff: reads on one thread, writes on
# another), the floor for any server whose handlers run on other threads; the
# thread pool's figures are set against it too.
#
# Environment:
#   BENCH_RUNS=9          runs per scenario (the median is reported)
#   BENCH_SECONDS=1.5     measured seconds per run
#   BENCH_WARMUP=0.5      unmeasured seconds before each run
#   BENCH_QUICK=1         smoke mode: 1 short run each, 1,000 idle connections (~3 s per server)
#   BENCH_IDLE_CONNS=10000, BENCH_SMALL_POOL=1000 (echo_server --small-pool for the pooled row)
#   BENCH_SERVERS="raw-tcp raw-handoff wsc-inline wsc-pool lws node-ws wsc-tls-inline wsc-tls-pool
#                  lws-tls node-wss"   which servers to run (the *-tls and -wss ones serve wss,
#                  with a certificate made here, and run only the wss scenarios)
#   BENCH_SCENARIOS="wss 100 x 16 B;wss 10 x 64 KiB"   only these scenarios (titles, ';' between)
#   BENCH_DEFLATE_ROWS=0  leaves out the compression rows, which otherwise follow the main table
#                         (with BENCH_SERVERS unset), 2,000 idle connections each
#                         (BENCH_DEFLATE_IDLE_CONNS)
#   BENCH_DEFLATE=1       the compression rows alone: echo of 1 KiB JSON-like text over 100
#                         connections, wsc with compression off, on with context takeover, on
#                         without, and with the shared compressor, beside libwebsockets and Node
#                         ws with compression on (servers: wsc-json wsc-deflate wsc-deflate-nt
#                         wsc-deflate-shared lws-deflate node-ws-deflate); also bytes on the wire
#                         per echo, and idle memory after one echo per connection
#   BENCH_SERVER_CPU=0 BENCH_LOAD_CPU=1, BENCH_PORT=19100 (first of the ports used)
#   WSC_BENCH_BIN=build/bin   where the programs are
#   BENCH_FANOUT=0        leave out the fan-out rows (bench/fanout.sh, which also runs alone)
# Every process it starts is stopped by PID when it ends, also on error or ^C.
set -u
cd "$(dirname "$0")/.." || exit 1

BIN=${WSC_BENCH_BIN:-build/bin}
RUNS=${BENCH_RUNS:-9}
SECS=${BENCH_SECONDS:-1.5}
WARMUP=${BENCH_WARMUP:-0.5}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
SMALL_POOL=${BENCH_SMALL_POOL:-1000}
PORT=${BENCH_PORT:-19100}
SERVERS=${BENCH_SERVERS:-"raw-tcp raw-handoff wsc-inline wsc-pool lws node-ws wsc-tls-inline wsc-tls-pool lws-tls node-wss"}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    RUNS=1 SECS=${BENCH_SECONDS:-0.25} WARMUP=0 IDLE_CONNS=${BENCH_IDLE_CONNS:-1000}
fi
MAX_MESSAGE=33554432 # room for the 16 MiB scenario
OUT_DIR=build/bench
mkdir -p "$OUT_DIR"
JSONL="$OUT_DIR/results$([ "${BENCH_DEFLATE:-0}" = 1 ] && echo -deflate).jsonl"
: >"$JSONL"

# name conns size depth [tls]: the wss scenarios run on the TLS servers only (and the others on the
# plain ones: "100 x 16 B" and "10 x 64 KiB" are the wss rows' scale without TLS)
DEFLATE=${BENCH_DEFLATE:-0}
if [ "$DEFLATE" = 1 ]; then
    SERVERS=${BENCH_SERVERS:-"raw-tcp wsc-json wsc-deflate wsc-deflate-nt wsc-deflate-shared lws-deflate node-ws-deflate"}
fi
SCENARIOS=(
    "100 x 16 B|100|16|1"
    "1,000 x 16 B|1000|16|1"
    "100 x 1 KiB|100|1024|1"
    "10 x 64 KiB|10|65536|1"
    "10 x 16 MiB|10|16777216|1"
    "100 x 16 B, D=16|100|16|16"
    "wss 100 x 16 B|100|16|1|tls"
    "wss 10 x 64 KiB|10|65536|1|tls"
)
if [ -n "${BENCH_SCENARIOS:-}" ]; then
    keep=()
    IFS=';' read -r -a wanted <<<"$BENCH_SCENARIOS"
    for sc in "${SCENARIOS[@]}"; do
        for w in "${wanted[@]}"; do [ "${sc%%|*}" = "$w" ] && keep+=("$sc"); done
    done
    SCENARIOS=("${keep[@]}")
fi
is_tls_server() { [[ $1 == *-tls* || $1 == *-wss ]]; }
is_tls_scenario() { [[ $1 == *"|tls" ]]; }

[ "$DEFLATE" = 1 ] && SCENARIOS=("100 x 1 KiB JSON|100|1024|1")

log() { printf '%s\n' "$*" >&2; }

# load_flags NAME: what the load generator offers each server in the compression rows.
load_flags() {
    [ "$DEFLATE" = 1 ] || return 0
    case $1 in
    raw-*) ;;
    *-deflate-nt) echo "--json-payload --deflate-no-takeover" ;;
    *-deflate*) echo "--json-payload --deflate" ;;
    *) echo "--json-payload" ;;
    esac
}

# ---- processes: every PID started is stopped at exit -------------------------
PIDS=()
# stop_pid PID: SIGTERM, then SIGKILL after 5 s; returns the exit status.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
}
trap cleanup EXIT
trap 'log "bench: interrupted"; exit 130' INT TERM

# ---- the programs -------------------------------------------------------------
CFLAGS_BENCH=(-std=c11 -D_GNU_SOURCE -O2 -g)
if [ ! -x "$BIN/wsc_load" ]; then
    log "bench: building $BIN/wsc_load"
    mkdir -p "$BIN"
    cc "${CFLAGS_BENCH[@]}" -o "$BIN/wsc_load" bench/wsc_load/*.c -lssl -lcrypto -lz -lpthread || exit 1
fi
if [ ! -x "$BIN/tcp_echo" ]; then
    log "bench: building $BIN/tcp_echo"
    cc "${CFLAGS_BENCH[@]}" -o "$BIN/tcp_echo" bench/tcp_echo.c || exit 1
fi
if [ ! -x "$BIN/lws_echo" ] && pkg-config --exists libwebsockets 2>/dev/null; then
    log "bench: building $BIN/lws_echo"
    # shellcheck disable=SC2046
    cc "${CFLAGS_BENCH[@]}" -o "$BIN/lws_echo" bench/lws_echo.c $(pkg-config --cflags --libs libwebsockets) ||
        rm -f "$BIN/lws_echo"
fi
# The TLS servers' certificate (ECDSA P-256, as a current public certificate would be).
TLS_CERT=$OUT_DIR/tls-cert.pem TLS_KEY=$OUT_DIR/tls-key.pem
if [[ " $SERVERS " == *-tls* || " $SERVERS " == *-wss* ]] && [ ! -s "$TLS_KEY" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj /CN=localhost -keyout "$TLS_KEY" -out "$TLS_CERT" >/dev/null 2>&1 ||
        log "bench: openssl could not make a certificate: the TLS servers will not start"
fi
TLS_ARGS="--tls-cert $TLS_CERT --tls-key $TLS_KEY"
# Debian's node-ws installs into /usr/share/nodejs, which Node from elsewhere does not search.
export NODE_PATH=${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs:/usr/lib/nodejs
have_node_ws() { command -v node >/dev/null 2>&1 && node -e "require('ws')" >/dev/null 2>&1; }

# The file limit is raised for this script and what it starts only.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 100)) ]; then
    IDLE_CONNS=$((NOFILE - 100))
    log "bench: file limit $NOFILE: idle test reduced to $IDLE_CONNS connections"
fi

# Pinning: server and load generator on different CPUs when there are two.
PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "${BENCH_SERVER_CPU:-0}")
    PIN_LOAD=(taskset -c "${BENCH_LOAD_CPU:-1}")
    PIN_NOTE="server on CPU ${BENCH_SERVER_CPU:-0}, load generator on CPU ${BENCH_LOAD_CPU:-1}"
else
    PIN_NOTE="not pinned (needs taskset and two CPUs)"
fi

# ---- servers -----------------------------------------------------------------
# server_cmd NAME PORT: prints the command line; fails when the server is unavailable.
server_cmd() {
    local name=$1 port=$2
    case $name in
    raw-tcp) echo "$BIN/tcp_echo --port $port --address 127.0.0.1" ;;
    raw-handoff) echo "$BIN/tcp_echo --port $port --address 127.0.0.1 --handoff" ;;
    wsc-inline) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --max-message $MAX_MESSAGE" ;;
    wsc-pool) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --max-message $MAX_MESSAGE" ;;
    wsc-dedicated-bufs) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0" ;;
    wsc-pooled-bufs) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --small-pool $SMALL_POOL" ;;
    lws) [ -x "$BIN/lws_echo" ] && echo "$BIN/lws_echo --port $port --address 127.0.0.1" ;;
    node-ws) have_node_ws && echo "node bench/node_ws_echo.js --port $port --address 127.0.0.1" ;;
    wsc-tls-inline) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --max-message $MAX_MESSAGE $TLS_ARGS" ;;
    wsc-tls-pool) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --max-message $MAX_MESSAGE $TLS_ARGS" ;;
    lws-tls) [ -x "$BIN/lws_echo" ] && echo "$BIN/lws_echo --port $port --address 127.0.0.1 $TLS_ARGS" ;;
    node-wss) have_node_ws && echo "node bench/node_ws_echo.js --port $port --address 127.0.0.1 $TLS_ARGS" ;;
    wsc-json) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0" ;;
    wsc-deflate) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --deflate" ;;
    wsc-deflate-nt) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --deflate --deflate-no-takeover" ;;
    wsc-deflate-shared) [ -x "$BIN/echo_server" ] &&
        echo "$BIN/echo_server --port $port --address 127.0.0.1 --threads 0 --deflate --deflate-shared" ;;
    lws-deflate) [ -x "$BIN/lws_echo" ] && echo "$BIN/lws_echo --port $port --address 127.0.0.1 --deflate" ;;
    node-ws-deflate) have_node_ws && echo "node bench/node_ws_echo.js --port $port --address 127.0.0.1 --deflate" ;;
    *) false ;;
    esac
}
server_label() {
    case $1 in
    raw-tcp) echo "raw TCP echo (ceiling)" ;;
    raw-handoff) echo "raw TCP echo, hand-off" ;;
    wsc-inline) echo "wsc, inline handlers" ;;
    wsc-pool) echo "wsc, thread pool (4)" ;;
    wsc-dedicated-bufs) echo "wsc, dedicated small buffers" ;;
    wsc-pooled-bufs) echo "wsc, pooled small buffers ($SMALL_POOL)" ;;
    lws) v=$(pkg-config --modversion libwebsockets 2>/dev/null); echo "libwebsockets ${v%-}" ;;
    node-ws) echo "Node $(node --version 2>/dev/null) ws" ;;
    wsc-tls-inline) echo "wsc TLS, inline handlers" ;;
    wsc-tls-pool) echo "wsc TLS, thread pool (4)" ;;
    lws-tls) v=$(pkg-config --modversion libwebsockets 2>/dev/null); echo "libwebsockets ${v%-} TLS" ;;
    node-wss) echo "Node $(node --version 2>/dev/null) ws, https" ;;
    wsc-json) echo "wsc, inline, no compression" ;;
    wsc-deflate) echo "wsc, deflate, takeover" ;;
    wsc-deflate-nt) echo "wsc, deflate, no takeover" ;;
    wsc-deflate-shared) echo "wsc, deflate, shared" ;;
    lws-deflate) v=$(pkg-config --modversion libwebsockets 2>/dev/null); echo "lws ${v%-}, deflate" ;;
    node-ws-deflate) echo "Node ws, deflate" ;;
    *) echo "$1" ;;
    esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# machine_busy: percent of all CPUs busy over half a second, while this bench
# runs nothing: what other users of a shared machine take from the figures.
machine_busy() {
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    sleep 0.5
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); busy = y[1] - x[1];
        idle = y[2] - x[2]; printf "%.0f", (busy + idle > 0 ? 100 * busy / (busy + idle) : 0)}'
}

SERVER_PID=
SERVER_STATUS=0
# start_server NAME PORT LOGFILE: 0 when it listens.
start_server() {
    local cmd
    cmd=$(server_cmd "$1" "$2") || true
    [ -n "$cmd" ] || return 2
    if port_open "$2"; then
        log "bench: port $2 is in use; skipping $1"
        return 1
    fi
    # shellcheck disable=SC2086
    "${PIN_SERVER[@]}" $cmd >"$3" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        port_open "$2" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "bench: $1 did not start listening on port $2 (log: $3)"
    stop_server
    return 1
}
# stop_server: stops it; SERVER_STATUS is its exit status (0 expected after SIGTERM).
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    stop_pid "$SERVER_PID"
    SERVER_STATUS=$?
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$SERVER_PID" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    SERVER_PID=
}

# ---- results -----------------------------------------------------------------
jget() { # jget KEY JSON-LINE
    local v
    v=$(printf '%s' "$2" | sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p")
    printf '%s' "${v//\"/}"
}
median() { printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# paired A B: A/B when both are measured, nothing otherwise.
paired() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b != "" && a >= 0 && b > 0) printf "%.6f", a/b}'; }

declare -A R # R[server|scenario|metric], R[server|scenario|metric|x]: ratio to the ceiling
declare -A NOTE

# run_one NAME SCENARIO RUN: one bounded load run; its figures are appended to V[...].
declare -A V RUNV # V: the values of every run; RUNV[server|scenario|metric|run]: one run's value
run_one() {
    local name=$1 sc=$2 run=$3 title conns size depth tls line mode=() pid=${PID_OF[$1]}
    [[ $name == raw-* ]] && mode=(--raw)
    IFS='|' read -r title conns size depth tls <<<"$sc"
    # wss scenarios on the TLS servers, the others on the plain ones.
    if is_tls_server "$name"; then
        [ -n "$tls" ] || return
        mode=(--tls)
    elif [ -n "$tls" ]; then
        return
    fi
    # shellcheck disable=SC2207 # flags are single words
    mode+=($(load_flags "$name"))
    if ! kill -0 "$pid" 2>/dev/null; then
        NOTE[$name]="server exited before '$title'"
        return
    fi
    log "bench: $title, run $run/$RUNS: $name"
    line=$(timeout -k 2 "$LOAD_BOUND" "${PIN_LOAD[@]}" "$BIN/wsc_load" "${mode[@]}" \
        --port "${PORT_OF[$name]}" -c "$conns" -s "$size" -d "$depth" -t "$SECS" --warmup "$WARMUP" \
        --server-pid "$pid" --json | tail -n 1)
    printf '{"server":"%s","scenario":"%s","run":%s,%s\n' "$name" "$title" "$run" "${line#\{}" >>"$JSONL"
    local k="$name|$title"
    if [ -z "$line" ]; then
        V[$k|errs]=$((${V[$k|errs]:-0} + 1))
        log "bench: $name: $title: the load generator gave no result"
        return
    fi
    local m key v
    for m in rate:msg_per_s mbps:mb_per_s p50:p50_us p99:p99_us cpu:server_cpu_us_per_msg \
        wire:wire_bytes_per_msg; do
        key=${m%%:*}
        v=$(jget "${m#*:}" "$line")
        V[$k|$key]+=" $v"
        RUNV[$k|$key|$run]=$v
    done
    V[$k|errs]=$((${V[$k|errs]:-0} + $(jget errors "$line")))
    local first
    first=$(jget first_error "$line")
    [ -n "$first" ] && log "bench: $name: $title: $first"
}

# measure_idle NAME PORT: RSS growth per idle connection after the handshake.
measure_idle() {
    local name=$1 port=$2 key=$1 mode=() out="$OUT_DIR/idle-$1.out"
    [[ $name == raw-* ]] && mode=(--raw)
    is_tls_server "$name" && mode=(--tls)
    # shellcheck disable=SC2207 # flags are single words
    mode+=($(load_flags "$name"))
    [ "$DEFLATE" = 1 ] && [[ $name != raw-* ]] && mode+=(-s 1024)
    start_server "$name" "$port" "$OUT_DIR/server-$key-idle.log" || return 1
    sleep 0.2
    local rss0 rss1 opened lpid
    rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    "${PIN_LOAD[@]}" "$BIN/wsc_load" "${mode[@]}" --port "$port" -c "$IDLE_CONNS" --idle 120 \
        --connect-timeout 30 --json >"$out" 2>&1 &
    lpid=$!
    PIDS+=("$lpid")
    for _ in $(seq 600); do
        grep -q idle_open "$out" 2>/dev/null && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.05
    done
    opened=$(sed -n 's/.*"idle_open":\([0-9]*\).*/\1/p' "$out" | head -n 1)
    sleep 0.5 # let the server finish its side of the last handshakes
    rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null)
    stop_pid "$lpid"
    stop_server
    if [ -n "$opened" ] && [ "$opened" -gt 0 ] && [ -n "$rss1" ]; then
        R[$key|idle]=$(((rss1 - rss0) * 1024 / opened))
        R[$key|idle_n]=$opened
        printf '{"server":"%s","idle_conns":%s,"rss_before_kb":%s,"rss_after_kb":%s}\n' \
            "$key" "$opened" "$rss0" "$rss1" >>"$JSONL"
    else
        R[$key|idle]="fail"
    fi
}

# ---- run -----------------------------------------------------------------------
log "bench: $RUNS run(s) of ${SECS}s per scenario (warm-up ${WARMUP}s), $PIN_NOTE"
# All servers listen at once (idle ones cost nothing) and the runs are
# interleaved, server after server, so that noise from a shared machine falls
# on every row alike rather than on whichever server ran at a busy moment.
ACTIVE=()
declare -A PID_OF PORT_OF
p=$PORT
for s in $SERVERS; do
    p=$((p + 1))
    if ! server_cmd "$s" "$p" >/dev/null; then
        NOTE[$s]="not available"
        continue
    fi
    if start_server "$s" "$p" "$OUT_DIR/server-$s.log"; then
        PID_OF[$s]=$SERVER_PID PORT_OF[$s]=$p
        ACTIVE+=("$s")
    else
        NOTE[$s]="did not start (see $OUT_DIR/server-$s.log)"
    fi
done
LOAD_BOUND=$(awk "BEGIN {print int($SECS + $WARMUP + 40)}")
BUSY_BEFORE=$(machine_busy)
for sc in "${SCENARIOS[@]}"; do
    for run in $(seq "$RUNS"); do
        for s in "${ACTIVE[@]}"; do run_one "$s" "$sc" "$run"; done
    done
done
BUSY_AFTER=$(machine_busy)
for s in "${ACTIVE[@]}"; do
    SERVER_PID=${PID_OF[$s]}
    stop_server
    [ "$SERVER_STATUS" = 0 ] || NOTE[$s]="${NOTE[$s]:+${NOTE[$s]}; }exited with status $SERVER_STATUS on SIGTERM"
    for sc in "${SCENARIOS[@]}"; do
        IFS='|' read -r title _ <<<"$sc"
        k="$s|$title"
        for m in rate mbps p50 p99 cpu wire; do
            # shellcheck disable=SC2086 # the values are a space-separated list
            R[$k|$m]=$(median ${V[$k|$m]:-})
            # The ratio is the median of the ratios of runs made back to back (run i of this server
            # and run i of the ceiling), so a slow spell of a shared machine cancels out instead of
            # landing on whichever server ran in it.
            pairs=()
            for run in $(seq "$RUNS"); do
                pairs+=("$(paired "${RUNV[$k|$m|$run]:-}" "${RUNV[raw-tcp|$title|$m|$run]:-}")")
            done
            R[$k|$m|x]=$(median "${pairs[@]}")
        done
        R[$k|errs]=${V[$k|errs]:-0}
    done
done

IDLE_ROWS=()
for s in $SERVERS; do
    # For wsc the small buffers, not the handler threads, decide idle memory; the hand-off mode
    # keeps the same per-connection state as the ceiling.
    case $s in
    wsc-pool | wsc-tls-pool | raw-handoff) continue ;;
    wsc-inline) idle_set=(wsc-dedicated-bufs wsc-pooled-bufs) ;;
    *) idle_set=("$s") ;;
    esac
    for k in "${idle_set[@]}"; do
        p=$((p + 1))
        server_cmd "$k" "$p" >/dev/null || continue
        log "bench: $k: $IDLE_CONNS idle connections"
        measure_idle "$k" "$p" && IDLE_ROWS+=("$k")
    done
done

# ---- report --------------------------------------------------------------------
fmt_rate() { awk -v v="$1" 'BEGIN {if (v == "-" || v == "") print "-"; else if (v >= 1e6) printf "%.2fM", v/1e6; else if (v >= 1e3) printf "%.1fk", v/1e3; else printf "%.0f", v}'; }
fmt_num() { awk -v v="$1" 'BEGIN {if (v == "-" || v == "" || v < 0) print "-"; else if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v}'; }
fmt_ratio() { awk -v x="$1" 'BEGIN {if (x == "-" || x == "") print "  -  "; else printf "%5.2f", x}'; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "wsc benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
echo "machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r); $PIN_NOTE"
echo "other load on the machine: ${BUSY_BEFORE}% of all CPUs busy before the runs, ${BUSY_AFTER}% after (0 = quiet)"
echo "each figure: median of $RUNS run(s) of ${SECS}s (after ${WARMUP}s warm-up)"
echo "(x): ratio to the raw-TCP ceiling, the median of the ratios of runs made back to back"
echo "msg/s and MB/s: echoes completed (payload, one way); p50/p99: round trip; CPU: server user+system time per echo"
echo
printf '%-18s %-28s %-15s %-15s %-15s %-15s %-16s %s\n' scenario server "msg/s (x)" "MB/s (x)" \
    "p50 us (x)" "p99 us (x)" "CPU us/msg (x)" errors
for sc in "${SCENARIOS[@]}"; do
    IFS='|' read -r title _ <<<"$sc"
    first=1
    for s in "${ACTIVE[@]}"; do
        [ -n "${R[$s|$title|rate]+x}" ] || continue
        if is_tls_server "$s"; then is_tls_scenario "$sc" || continue; else ! is_tls_scenario "$sc" || continue; fi
        if awk -v v="${R[$s|$title|rate]}" 'BEGIN {exit !(v == "-" || v + 0 == 0)}'; then
            printf '%-18s %-28s %-79s %s\n' "$([ $first = 1 ] && echo "$title")" "$(server_label "$s")" \
                "(no echo completed within ${SECS}s)" "${R[$s|$title|errs]}"
            first=0
            continue
        fi
        printf '%-18s %-28s %-15s %-15s %-15s %-15s %-16s %s\n' "$([ $first = 1 ] && echo "$title")" \
            "$(server_label "$s")" \
            "$(fmt_rate "${R[$s|$title|rate]}") ($(fmt_ratio "${R[$s|$title|rate|x]:-}"))" \
            "$(fmt_num "${R[$s|$title|mbps]}") ($(fmt_ratio "${R[$s|$title|mbps|x]:-}"))" \
            "$(fmt_num "${R[$s|$title|p50]}") ($(fmt_ratio "${R[$s|$title|p50|x]:-}"))" \
            "$(fmt_num "${R[$s|$title|p99]}") ($(fmt_ratio "${R[$s|$title|p99|x]:-}"))" \
            "$(fmt_num "${R[$s|$title|cpu]}") ($(fmt_ratio "${R[$s|$title|cpu|x]:-}"))" \
            "${R[$s|$title|errs]}"
        first=0
    done
done
if [ -n "${PID_OF[wsc-pool]:-}" ] && [ -n "${PID_OF[raw-handoff]:-}" ]; then
    echo
    echo "thread pool against the hand-off floor (median of the ratios of runs made back to back):"
    for sc in "${SCENARIOS[@]}"; do
        IFS='|' read -r title _ <<<"$sc"
        line="  $(printf '%-18s' "$title")"
        for m in mbps:MB/s cpu:CPU/msg; do
            pairs=()
            for run in $(seq "$RUNS"); do
                pairs+=("$(paired "${RUNV[wsc-pool|$title|${m%%:*}|$run]:-}" \
                    "${RUNV[raw-handoff|$title|${m%%:*}|$run]:-}")")
            done
            line+=" ${m#*:} $(fmt_ratio "$(median "${pairs[@]}")")"
        done
        echo "$line"
    done
fi
if [ "$DEFLATE" = 1 ]; then
    echo
    echo "bytes on the wire per echo: the server's frame, header included (median of the runs)"
    for sc in "${SCENARIOS[@]}"; do
        IFS='|' read -r title _ <<<"$sc"
        for s in "${ACTIVE[@]}"; do
            [[ $s == raw-* ]] && continue
            printf '  %-40s %s\n' "$(server_label "$s")" "$(fmt_num "${R[$s|$title|wire]:-}")"
        done
    done
fi
echo
if [ "$DEFLATE" = 1 ]; then
    echo "idle connections after the handshake and one compressed echo each (the row without"
    echo "compression: the handshake only): server RSS growth per connection (VmRSS after - before, / connections)"
else
    echo "idle connections after the handshake: server RSS growth per connection (VmRSS after - before, / connections)"
fi
for k in "${IDLE_ROWS[@]}"; do
    printf '  %-40s %8s bytes  (%s connections)\n' "$(server_label "$k")" "${R[$k|idle]:-fail}" "${R[$k|idle_n]:-0}"
done
for s in $SERVERS; do
    [ -n "${NOTE[$s]+x}" ] && echo "  note: $(server_label "$s"): ${NOTE[$s]}"
done
echo "raw results: $JSONL"

# A failed run (errors, or no result at all) fails the bench.
status=0
for s in "${ACTIVE[@]}"; do
    for sc in "${SCENARIOS[@]}"; do
        IFS='|' read -r title _ <<<"$sc"
        [ "${R[$s|$title|errs]:-1}" = 0 ] || status=1
    done
    [[ "${NOTE[$s]:-}" == *exited* ]] && [[ $s == wsc-* ]] && status=1
done
for k in "${IDLE_ROWS[@]}"; do [ "${R[$k|idle]}" = fail ] && status=1; done

# Compression (permessage-deflate): its own servers, scenario and idle count, after the main table.
if [ "$DEFLATE" = 0 ] && [ -z "${BENCH_SERVERS:-}" ] && [ "${BENCH_DEFLATE_ROWS:-1}" = 1 ]; then
    echo
    BENCH_DEFLATE=1 BENCH_FANOUT=0 BENCH_PORT=$((PORT + 400)) \
        BENCH_IDLE_CONNS=${BENCH_DEFLATE_IDLE_CONNS:-2000} WSC_BENCH_BIN="$BIN" bench/run.sh || status=1
fi

# Fan-out (topics): its own servers and load, after the rest (BENCH_FANOUT=0 leaves it out).
if [ "${BENCH_FANOUT:-1}" = 1 ]; then
    echo
    BENCH_PORT=$((PORT + 200)) WSC_BENCH_BIN="$BIN" bench/fanout.sh || status=1
fi
exit $status
