#!/usr/bin/env bash
# The wsc command-line tool (tools/wsc): `wsc serve` (echo, broadcast), `wsc connect` (lines,
# hex, --echo, headers, subprotocols, pings, TLS options, and every exit status), `wsc bench`,
# each --help and the manual. Servers and clients are real processes on 127.0.0.1, started here
# and stopped by PID. Every wait has a deadline; every process runs under `timeout`.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${WSC_BIN:-build/asan/bin}
WSC=$BIN/wsc
PY=/usr/bin/python3
RAW_PEER=tests/interop/peers/raw_ws_server.py
PY_PEER=tests/interop/peers/ws_server.py
pass=0 fail=0
PIDS=()
declare -A HPID HFD
TMP=$(mktemp -d)
# A write to the input of a process that has died must fail, not end this script.
trap '' PIPE

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected $3, got $2"; fi; }
show() { sed 's/^/  | /' "$1" | tail -n 20; }

# wait_for FILE ERE [SECONDS]: until a line of FILE matches, at most SECONDS (default 10).
wait_for() {
    local end=$((SECONDS + ${3:-10}))
    while [ "$SECONDS" -le "$end" ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# unheld CMD...: runs CMD without the write ends of the FIFOs `held` keeps, so that closing one
# here ends that input (another process holding it would keep it open).
unheld() {
    local f
    for f in "${HFD[@]}"; do exec {f}>&-; done
    exec "$@"
}

# held NAME CMD...: CMD in the background, its standard input a FIFO that this script holds open
# (so a client reads only what `say` writes, and a peer lives until `release`), its output in
# $TMP/NAME.out and .err. Bounded by `timeout`, which passes a signal sent to it on to CMD alone
# (--foreground: not to its process group as well, which would deliver it twice).
held() {
    local name=$1 fd
    shift
    mkfifo "$TMP/$name.in"
    (unheld timeout --foreground -k 2 60 "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err") &
    HPID[$name]=$!
    PIDS+=($!)
    exec {fd}>"$TMP/$name.in"
    HFD[$name]=$fd
}
say() { printf '%s\n' "$2" >&"${HFD[$1]}"; }
# release NAME: ends its input and returns its exit status.
release() {
    local fd=${HFD[$1]}
    exec {fd}>&-
    wait "${HPID[$1]}"
}

# stop PID: SIGTERM, then its exit status (SIGKILL after 10 s).
stop() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
}

# serve NAME ARGS...: `wsc serve --port 0 ARGS`; sets PORT and SPID once it listens.
serve() {
    local name=$1
    shift
    (unheld "$WSC" serve --port 0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err") &
    SPID=$!
    PIDS+=($!)
    if wait_for "$TMP/$name.out" '^wsc serve: listening on ' 20; then
        PORT=$(sed -n 's|^wsc serve: listening on ws://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/$name.out")
        [ -n "$PORT" ] && return 0
    fi
    bad "wsc serve $* starts"
    show "$TMP/$name.err"
    return 1
}

# peer NAME SCRIPT ARGS...: a Python peer on a free port (its first line of output); sets PORT.
peer() {
    local name=$1
    shift
    held "$name" "$PY" "$@"
    if wait_for "$TMP/$name.out" '^[0-9]+$' 20; then
        PORT=$(head -n 1 "$TMP/$name.out")
        return 0
    fi
    bad "peer $name starts"
    show "$TMP/$name.err"
    return 1
}

# connect NAME STDIN ARGS...: `wsc connect ARGS` with STDIN (a file) as its input; sets RC.
connect() {
    local name=$1 input=$2
    shift 2
    timeout -k 2 30 "$WSC" connect "$@" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err"
    RC=$?
}

# round_trip TITLE NAME INPUT EXPECTED ARGS...: `wsc connect ARGS` given INPUT must print EXPECTED
# and exit 0 (INPUT and EXPECTED are printf formats).
round_trip() {
    local title=$1 name=$2 input=$3 expected=$4
    shift 4
    printf "$input" >"$TMP/$name.in"
    connect "$name" "$TMP/$name.in" "$@"
    if [ "$RC" = 0 ] && cmp -s <(printf "$expected") "$TMP/$name.out"; then
        ok "$title"
    else
        bad "$title" "exit $RC, printed: $(cat "$TMP/$name.out")"
    fi
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ ! -x "$WSC" ]; then
    bad "wsc built in $BIN"
    echo "$pass passed, $fail failed"
    exit 1
fi

# ---- --help and the manual --------------------------------------------------------------------
opts_top="serve connect bench help"
opts_serve="--port --address --unix --echo --broadcast --max-message --idle-timeout --deflate
            --tls-cert --tls-key --help"
opts_connect="--header -H --protocol --binary --echo --insecure --ca --max-message --deflate --help"
opts_bench="--conns --size --depth --seconds --warmup --threads --host --port --path --text --raw
            --idle --connect-timeout --max-connecting --server-pid --json"
for cmd in top serve connect bench; do
    if [ "$cmd" = top ]; then args=(--help); else args=("$cmd" --help); fi
    out=$(timeout 10 "$WSC" "${args[@]}" 2>&1)
    rc=$?
    var=opts_$cmd
    missing=""
    for o in ${!var}; do
        grep -qF -- "$o" <<<"$out" || missing="$missing $o"
    done
    if [ "$rc" = 0 ] && [ -z "$missing" ]; then
        ok "wsc ${args[*]} exits 0 and names every option"
    else
        bad "wsc ${args[*]}" "exit $rc, missing:${missing:- none}"
    fi
done
out=$(timeout 10 "$WSC" help connect 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -qF -- "--protocol" <<<"$out"; then ok "wsc help connect"; else bad "wsc help connect" "exit $rc"; fi
timeout 10 "$WSC" frobnicate >/dev/null 2>&1
check "an unknown command exits 2" "$?" 2

if command -v groff >/dev/null; then
    if warn=$(groff -man -Tutf8 -ww -z tools/wsc/wsc.1 2>&1) && [ -z "$warn" ]; then
        ok "wsc.1 renders without warnings (groff -ww)"
    else
        bad "wsc.1 renders without warnings" "$warn"
    fi
    page=$(groff -man -Tutf8 -P-cbou tools/wsc/wsc.1 2>/dev/null)
elif command -v man >/dev/null; then
    if warn=$(MANWIDTH=80 man --warnings -l tools/wsc/wsc.1 2>&1 >/dev/null) && [ -z "$warn" ]; then
        ok "wsc.1 renders without warnings (man --warnings)"
    else
        bad "wsc.1 renders without warnings" "$warn"
    fi
    page=$(MANWIDTH=80 man -l tools/wsc/wsc.1 2>/dev/null | sed 's/.\x08//g')
else
    echo "skip wsc.1 rendering (neither groff nor man is installed)"
    page=$(cat tools/wsc/wsc.1)
fi
missing=""
for o in $opts_serve $opts_connect $opts_bench "EXIT STATUS"; do
    # roff writes a hyphen as \-; rendered text has plain hyphens.
    grep -qF -- "$o" <<<"$page" || missing="$missing $o"
done
for n in 0 1 2 3 4 5 6 7 8; do
    grep -qE "^ +$n\$" <<<"$page" || grep -qE "^ +$n " <<<"$page" || missing="$missing status-$n"
done
if [ -z "$missing" ]; then ok "wsc.1 names every option and exit status"; else bad "wsc.1 names every option" "missing:$missing"; fi

# ---- usage errors and features not built --------------------------------------------------------
connect usage_deflate /dev/null --deflate ws://127.0.0.1:9/
check "connect --deflate exits 2" "$RC" 2
grep -q 'not supported' "$TMP/usage_deflate.err" || bad "connect --deflate says why" "$(cat "$TMP/usage_deflate.err")"
timeout 10 "$WSC" serve --port 0 --deflate >/dev/null 2>"$TMP/sd.err"
check "serve --deflate exits 2" "$?" 2
timeout 10 "$WSC" serve --port 0 --tls-cert a.pem --tls-key b.pem >/dev/null 2>"$TMP/st.err"
rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l <"$TMP/st.err")" = 1 ] && grep -q 'TLS' "$TMP/st.err"; then
    ok "serve --tls-cert exits 2 with one line"
else
    bad "serve --tls-cert" "exit $rc: $(cat "$TMP/st.err")"
fi
connect usage_url /dev/null http://127.0.0.1:9/
check "connect with a bad URL exits 2" "$RC" 2
connect usage_opt /dev/null --frobnicate ws://127.0.0.1:9/
check "connect with an unknown option exits 2" "$RC" 2
timeout 10 "$WSC" serve --echo --broadcast >/dev/null 2>&1
check "serve --echo --broadcast exits 2" "$?" 2

# ---- echo server --------------------------------------------------------------------------------
if serve echo --echo; then
    ECHO_PORT=$PORT
    ECHO_PID=$SPID
    URL=ws://127.0.0.1:$PORT/
    round_trip "connect: every line came back, one a line" lines \
        'hello\nw\xc3\xb6rld\n\nlast line, no newline' 'hello\nw\xc3\xb6rld\n\nlast line, no newline\n' "$URL"
    grep -qx 'close 1000' "$TMP/lines.err" && ok "connect: the server's close 1000 is reported" ||
        bad "connect: close reported" "$(cat "$TMP/lines.err")"
    round_trip "connect --binary: hex in, binary round trip, hex out" hex \
        '00ff10\nDE ad be EF\n\nzz\n0a' '00ff10\ndeadbeef\n\n0a\n' --binary "$URL"
    grep -q 'not hex' "$TMP/hex.err" && ok "connect --binary: a line that is not hex is reported" ||
        bad "connect --binary: bad hex reported" "$(cat "$TMP/hex.err")"

    # 200 KiB messages: over the library's default of 64 KiB, within the tool's.
    "$PY" -c 'import sys; [print(chr(97 + i) * 204800) for i in range(3)]' >"$TMP/big.in"
    connect big "$TMP/big.in" "$URL"
    if [ "$RC" = 0 ] && cmp -s "$TMP/big.in" "$TMP/big.out"; then ok "connect: 200 KiB lines"; else bad "connect: 200 KiB lines" "exit $RC"; fi

    # SIGTERM closes with 1000 and exits 0.
    held sig "$WSC" connect "$URL"
    say sig "before the signal"
    if wait_for "$TMP/sig.out" '^before the signal$'; then
        kill -TERM "${HPID[sig]}" # timeout passes it on to wsc
        release sig
        rc=$?
        check "connect: SIGTERM closes cleanly (exit 0)" "$rc" 0
        grep -qx 'close 1000' "$TMP/sig.err" || bad "connect: SIGTERM close reported" "$(cat "$TMP/sig.err")"
    else
        bad "connect: a held client echoes"
        release sig
    fi

    # TLS to a server that speaks none.
    connect notls /dev/null "wss://127.0.0.1:$PORT/"
    check "connect: wss:// to a plain server exits 5 (TLS)" "$RC" 5

    # wsc bench for a second against wsc serve.
    timeout -k 2 60 "$WSC" bench -p "$PORT" -c 4 -t 1 >"$TMP/bench.out" 2>"$TMP/bench.err"
    rc=$?
    if [ "$rc" = 0 ] && grep -qE '[0-9]+ msg/s' "$TMP/bench.out" && grep -q 'latency *p50' "$TMP/bench.out"; then
        ok "wsc bench: $(grep -oE '[0-9]+ msg/s' "$TMP/bench.out"), exit 0"
    else
        bad "wsc bench" "exit $rc: $(cat "$TMP/bench.out" "$TMP/bench.err")"
    fi
    timeout 10 "$WSC" bench --conns 0 >/dev/null 2>&1
    check "wsc bench with a bad value exits 2" "$?" 2

    stop "$ECHO_PID"
    check "serve --echo: SIGTERM stops it with exit status 0" "$?" 0
fi

# ---- broadcast server ---------------------------------------------------------------------------
if serve bcast --broadcast; then
    BCAST_PID=$SPID
    B=ws://127.0.0.1:$PORT
    # Each client announces itself and waits for its own message: then it is in its room.
    held a "$WSC" connect "$B/room"
    say a ready-a
    wait_for "$TMP/a.out" '^ready-a$' || bad "broadcast: a receives its own message"
    held b "$WSC" connect "$B/room?the=query&is=not&part=of&the=path"
    say b ready-b
    wait_for "$TMP/b.out" '^ready-b$' || bad "broadcast: b receives its own message"
    held c "$WSC" connect "$B/other"
    say c ready-c
    wait_for "$TMP/c.out" '^ready-c$' || bad "broadcast: c receives its own message"
    say a hello
    wait_for "$TMP/a.out" '^hello$' && wait_for "$TMP/b.out" '^hello$' ||
        bad "broadcast: a and b receive a's message"
    say c done-c
    wait_for "$TMP/c.out" '^done-c$' || bad "broadcast: c receives done-c"
    for n in a b c; do
        release "$n"
        check "broadcast: client $n exits 0" "$?" 0
    done
    check "broadcast: sender a got every message of its room" "$(tr '\n' ' ' <"$TMP/a.out")" "ready-a ready-b hello "
    check "broadcast: b got a's message" "$(tr '\n' ' ' <"$TMP/b.out")" "ready-b hello "
    check "broadcast: c on another path got nothing of /room" "$(tr '\n' ' ' <"$TMP/c.out")" "ready-c done-c "
    stop "$BCAST_PID"
    check "serve --broadcast: SIGTERM stops it with exit status 0" "$?" 0
fi

"$WSC" serve --unix "$TMP/wsc.sock" >"$TMP/unix.out" 2>&1 &
upid=$!
PIDS+=($upid)
if wait_for "$TMP/unix.out" "listening on unix:$TMP/wsc.sock" && [ -S "$TMP/wsc.sock" ]; then
    stop "$upid"
    check "serve --unix listens on the socket and stops with 0" "$?" 0
else
    bad "serve --unix" "$(cat "$TMP/unix.out")"
fi

# ---- against a server of our own: --echo and every exit status ---------------------------------
if peer raw "$RAW_PEER"; then
    R=ws://127.0.0.1:$PORT
    connect echo_check /dev/null --echo "$R/echo-check"
    check "connect --echo: the peer's messages all came back (exit 0)" "$RC" 0
    grep -qx 'ping "p1"' "$TMP/echo_check.err" && grep -qx 'close 1000' "$TMP/echo_check.err" &&
        ok "connect --echo: ping and close reported" || bad "connect --echo reports" "$(cat "$TMP/echo_check.err")"
    grep -qx 'fragmented' "$TMP/echo_check.out" && ok "connect --echo: messages printed too" ||
        bad "connect --echo prints" "$(cat "$TMP/echo_check.out")"

    # --echo keeps the connection open at the end of input: the server acts first here.
    connect e404 /dev/null "$R/status/404"
    check "connect: HTTP 404 instead of 101 exits 4" "$RC" 4
    connect utf8 /dev/null --echo "$R/bad-utf8"
    check "connect: invalid UTF-8 from the server exits 6" "$RC" 6
    grep -q '1007' "$TMP/utf8.err" || bad "connect: 1007 named" "$(cat "$TMP/utf8.err")"
    connect opcode /dev/null --echo "$R/bad-opcode"
    check "connect: a reserved opcode from the server exits 6" "$RC" 6
    connect c4001 /dev/null --echo "$R/close/4001"
    check "connect: the server closes with 4001: exit 7" "$RC" 7
    grep -qx 'close 4001 "bye"' "$TMP/c4001.err" || bad "connect: close 4001 reported" "$(cat "$TMP/c4001.err")"
    connect c1001 /dev/null --echo "$R/close/1001"
    check "connect: the server closes with 1001: exit 0" "$RC" 0
    connect drop /dev/null --echo "$R/drop"
    check "connect: the server drops the connection: exit 8" "$RC" 8
    # The same without --echo: standard input held open until the connection has ended.
    held h1011 "$WSC" connect "$R/close/1011"
    wait_for "$TMP/h1011.err" '^wsc: closed by the server' || true
    release h1011
    check "connect: the server closes with 1011 while input is open: exit 7" "$?" 7
    release raw >/dev/null
fi
connect refused /dev/null "ws://127.0.0.1:$(free_port)/"
check "connect: nothing listens on the port: exit 3" "$RC" 3

# ---- against python3-websockets: headers, subprotocol, pings, TLS -------------------------------
if ! "$PY" -c 'import websockets' 2>/dev/null; then
    echo "skip python websockets peer (module not installed)"
elif peer py "$PY_PEER"; then
    P=ws://127.0.0.1:$PORT
    held hdr "$WSC" connect -H 'X-Tool-Test: yes' --header 'X-Second: 2' --protocol chat "$P/"
    say hdr '!subprotocol'
    wait_for "$TMP/hdr.out" '^chat$' && ok "connect --protocol: the server chose chat" ||
        bad "connect --protocol" "$(cat "$TMP/hdr.out")"
    say hdr '!headers'
    wait_for "$TMP/hdr.out" '^X-Tool-Test: yes$' && wait_for "$TMP/hdr.out" '^X-Second: 2$' &&
        ok "connect -H/--header: both headers sent" || bad "connect -H" "$(cat "$TMP/hdr.out")"
    say hdr '!ping abc'
    wait_for "$TMP/hdr.out" '^pong abc$' && grep -qx 'ping "abc"' "$TMP/hdr.err" &&
        ok "connect: a ping is reported and answered" || bad "connect: ping" "$(cat "$TMP/hdr.err")"
    release hdr
    check "connect: exit 0 after the headers test" "$?" 0
    release py >/dev/null

    if command -v openssl >/dev/null &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj /CN=wsc-test -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
            -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 &&
        peer tls "$PY_PEER" --tls "$TMP/cert.pem" "$TMP/key.pem"; then
        T=wss://127.0.0.1:$PORT/
        connect verify /dev/null "$T"
        check "connect: a self-signed certificate fails verification: exit 5" "$RC" 5
        # This server stops answering once our close frame is in: wait for the echo first.
        for opt in --insecure --ca; do
            name=tls${opt//-/_}
            if [ "$opt" = --ca ]; then held "$name" "$WSC" connect --ca "$TMP/cert.pem" "$T"
            else held "$name" "$WSC" connect --insecure "$T"; fi
            say "$name" secure
            wait_for "$TMP/$name.out" '^secure$' || bad "connect $opt: the echo" "$(cat "$TMP/$name.err")"
            release "$name"
            check "connect $opt: wss:// works, exit 0" "$?" 0
        done
        release tls >/dev/null
    else
        echo "skip TLS options (no openssl, or the TLS peer did not start)"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
