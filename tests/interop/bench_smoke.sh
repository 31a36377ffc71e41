#!/usr/bin/env bash
# Smoke test of the benchmark tools: wsc_load against the raw-TCP echo, an
# independent WebSocket echo server (Python websockets) and, when it is
# built, wsc's echo_server. Checks only that they work: messages echoed,
# every byte verified, no errors. No timing is asserted.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${WSC_BIN:-build/asan/bin}
PY=/usr/bin/python3
pass=0 fail=0
PIDS=()
TMP=$(mktemp -d)

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below Linux's ephemeral range (32768 and up by default), so that no client socket of an earlier
# run holds the port it picks.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        port_open "$p" || { echo "$p"; return; }
    done
    echo 29999
}
# start NAME PORT CMD...: starts a server, waits until it listens.
start() {
    local name=$1 port=$2
    shift 2
    "$@" >"$TMP/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        port_open "$port" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "  $name did not start; its log:"
    sed 's/^/  | /' "$TMP/$name.log" | tail -n 20
    return 1
}

# load NAME ARGS...: one bounded run of wsc_load; checks its JSON result.
load() {
    local name=$1
    shift
    local line
    line=$(timeout -k 2 30 "$BIN/wsc_load" -t 0.4 --json "$@" 2>"$TMP/load.err" | tail -n 1)
    local msgs errs
    msgs=$(printf '%s' "$line" | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
    errs=$(printf '%s' "$line" | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
    if [ -n "$msgs" ] && [ "$msgs" -gt 0 ] && [ "$errs" = 0 ]; then
        ok "$name ($msgs echoes)"
    else
        bad "$name" "${line:-no result} $(head -c 400 "$TMP/load.err")"
    fi
}

if [ ! -x "$BIN/wsc_load" ] || [ ! -x "$BIN/tcp_echo" ]; then
    bad "wsc_load and tcp_echo built in $BIN"
    echo "$pass passed, $fail failed"
    exit 1
fi

# Raw-TCP ceiling.
p=$(free_port)
if start tcp_echo "$p" "$BIN/tcp_echo" --port "$p" --address 127.0.0.1; then
    load "raw 10 x 16 B" --raw -p "$p" -c 10 -s 16
    load "raw 4 x 64 KiB, depth 4" --raw -p "$p" -c 4 -s 64k -d 4
    load "raw 2 x 1 MiB, 2 threads" --raw -p "$p" -c 2 -s 1m --threads 2
else
    bad "tcp_echo starts"
fi

# Its hand-off mode (reads on one thread, writes on another): the same checks of every byte.
p=$(free_port)
if start tcp_echo_handoff "$p" "$BIN/tcp_echo" --port "$p" --address 127.0.0.1 --handoff; then
    load "raw hand-off 20 x 16 B, depth 8" --raw -p "$p" -c 20 -s 16 -d 8
    load "raw hand-off 4 x 64 KiB, depth 4" --raw -p "$p" -c 4 -s 64k -d 4
    load "raw hand-off 2 x 4 MiB, depth 2" --raw -p "$p" -c 2 -s 4m -d 2
else
    bad "tcp_echo --handoff starts"
fi

# An independent WebSocket server checks the load generator's own framing.
cat >"$TMP/echo.py" <<'EOF'
import asyncio, sys, websockets
async def echo(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass
async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=1 << 22, compression=None):
        await asyncio.Future()
asyncio.run(main())
EOF
if "$PY" -c "import websockets" 2>/dev/null; then
    p=$(free_port)
    if start py_echo "$p" "$PY" "$TMP/echo.py" "$p"; then
        load "python websockets, 10 x 16 B binary" -p "$p" -c 10 -s 16
        load "python websockets, 4 x 70,000 B text, depth 3" -p "$p" -c 4 -s 70000 -d 3 --text
        load "python websockets, 3 x 0 B" -p "$p" -c 3 -s 0
    else
        bad "python websockets echo starts"
    fi
    # The same server compressing (its default): wsc_load's own permessage-deflate.
    sed 's/, compression=None//' "$TMP/echo.py" >"$TMP/echo_deflate.py"
    p=$(free_port)
    if start py_echo_deflate "$p" "$PY" "$TMP/echo_deflate.py" "$p"; then
        load "python websockets deflate, 10 x 1 KiB JSON" -p "$p" -c 10 -s 1024 --json-payload --deflate
        load "python websockets deflate, no takeover, 4 x 70,000 B" -p "$p" -c 4 -s 70000 \
            --json-payload --deflate-no-takeover
        load "python websockets deflate, 3 x 20 KiB random binary" -p "$p" -c 3 -s 20k --deflate
    else
        bad "python websockets compressing echo starts"
    fi
else
    echo "skip python websockets (module not installed)"
fi

# Idle mode: connections held open, then closed cleanly.
p=$(free_port)
if start tcp_echo_idle "$p" "$BIN/tcp_echo" --port "$p" --address 127.0.0.1; then
    line=$(timeout -k 2 30 "$BIN/wsc_load" --raw -p "$p" -c 50 --idle 0.2 --json 2>&1 | tail -n 1)
    case $line in
    *'"opened":50,'*'"errors":0,'*) ok "idle 50 connections" ;;
    *) bad "idle 50 connections" "$line" ;;
    esac
else
    bad "tcp_echo starts (idle test)"
fi

# wsc's own echo server, when it is built.
if [ -x "$BIN/echo_server" ]; then
    p=$(free_port)
    if start echo_server "$p" "$BIN/echo_server" --port "$p" --address 127.0.0.1 --max-message 4194304; then
        load "echo_server, 20 x 16 B" -p "$p" -c 20 -s 16
        load "echo_server, 10 x 16 B text, depth 16" -p "$p" -c 10 -s 16 -d 16 --text
        load "echo_server, 4 x 1 MiB" -p "$p" -c 4 -s 1m
    else
        bad "echo_server starts"
    fi
    p=$(free_port)
    if start echo_server_inline "$p" "$BIN/echo_server" --port "$p" --address 127.0.0.1 --threads 0; then
        load "echo_server inline, 20 x 1 KiB" -p "$p" -c 20 -s 1k
    else
        bad "echo_server --threads 0 starts"
    fi
    # wss: the load generator's TLS against the server's.
    if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1; then
        p=$(free_port)
        if start echo_server_tls "$p" "$BIN/echo_server" --port "$p" --address 127.0.0.1 \
            --max-message 4194304 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"; then
            load "echo_server wss, 20 x 16 B" --tls -p "$p" -c 20 -s 16
            load "echo_server wss, 4 x 1 MiB, depth 2" --tls -p "$p" -c 4 -s 1m -d 2
            load "echo_server wss, 10 x 16 B text, depth 16" --tls -p "$p" -c 10 -s 16 -d 16 --text
        else
            bad "echo_server --tls-cert starts"
        fi
    else
        bad "openssl makes a certificate"
    fi
else
    echo "skip echo_server (not built in $BIN)"
fi

# The copy-placement probe: runs and prints one row per distance (what the rows say is not checked).
if [ -x "$BIN/copy_phase" ]; then
    out=$(timeout -k 2 30 "$BIN/copy_phase" --size 8192 --rounds 20 2>&1)
    rows=$(printf '%s\n' "$out" | grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$')
    if [ "$rows" = 9 ]; then ok "copy_phase (9 distances)"; else bad "copy_phase" "$out"; fi
    if "$BIN/copy_phase" --size 0 >/dev/null 2>&1; then bad "copy_phase refuses --size 0"; else ok "copy_phase refuses --size 0"; fi
else
    bad "copy_phase built in $BIN"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
