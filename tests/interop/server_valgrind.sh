#!/usr/bin/env bash
# The release echo_server (build/bin) under valgrind: a few connections exchange messages and keep
# sending while the server gets SIGTERM; the server must close them (1001), exit with status 0, and
# valgrind must find no memory error and no leak (--error-exitcode). Bounded in time; the server is
# stopped by its PID. Prints `N passed, N failed` last.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=build/bin/echo_server
PY=/usr/bin/python3
pass=0 fail=0
TMP=$(mktemp -d)
SRV=

cleanup() {
    if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
        kill -KILL "$SRV" 2>/dev/null
        wait "$SRV" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

if ! command -v valgrind >/dev/null; then
    bad "valgrind installed"
    finish
fi
if [ ! -x "$BIN" ]; then
    bad "release echo_server" "$BIN not found (run make)"
    finish
fi

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

for mode in "" "--blocking"; do
    label=${mode:-epoll}
    log="$TMP/valgrind-$label.log"
    valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
        --log-file="$log" "$BIN" --port "$port" --threads 2 $mode >/dev/null 2>&1 &
    SRV=$!

    # valgrind starts slowly: wait up to 60 s for the port.
    up=0
    for _ in $(seq 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" -ne 1 ]; then
        bad "$label: server starts under valgrind" "$(tail -5 "$log" 2>/dev/null)"
        kill -KILL "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=
        continue
    fi
    ok "$label: server starts under valgrind"

    # Four clients echo a few messages, then keep sending without waiting; once all are busy the
    # client prints READY and we stop the server under them.
    $PY - "$port" >"$TMP/client-$label.out" 2>&1 <<'PYEOF' &
import asyncio, sys, websockets
port = int(sys.argv[1])
codes = []
async def one(k, ready):
    async with websockets.connect(f"ws://127.0.0.1:{port}/", open_timeout=60, close_timeout=30,
                                  ping_interval=None) as ws:
        for i in range(5):
            m = f"client {k} message {i} " + "v" * (i * 1000)
            await ws.send(m)
            assert await asyncio.wait_for(ws.recv(), 60) == m
        ready.append(k)
        # Read the echoes while sending: a client that stops reading would never see the close
        # frame behind them.
        async def drain():
            try:
                async for _ in ws:
                    pass
            except websockets.ConnectionClosed:
                pass
        reader = asyncio.create_task(drain())
        try:
            for i in range(100000):
                await ws.send(b"x" * 3000)
                await asyncio.sleep(0.005)
        except websockets.ConnectionClosed:
            pass
        await reader
        codes.append(ws.close_code)
async def main():
    ready = []
    tasks = [asyncio.create_task(one(k, ready)) for k in range(4)]
    while len(ready) < 4 and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), 90)
    print("CODES", " ".join(map(str, sorted(codes))), flush=True)
asyncio.run(main())
PYEOF
    CLI=$!
    ready=0
    for _ in $(seq 1200); do
        grep -q READY "$TMP/client-$label.out" 2>/dev/null && { ready=1; break; }
        kill -0 "$CLI" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$ready" -eq 1 ]; then ok "$label: clients echo and stay busy"; else bad "$label: clients echo and stay busy" "$(tail -5 "$TMP/client-$label.out")"; fi
    sleep 0.5
    kill -TERM "$SRV"
    stopped=0
    for _ in $(seq 900); do
        kill -0 "$SRV" 2>/dev/null || { stopped=1; break; }
        sleep 0.1
    done
    if [ "$stopped" -ne 1 ]; then
        bad "$label: SIGTERM stops the server" "still running after 90 s"
        kill -KILL "$SRV" 2>/dev/null
    fi
    wait "$SRV"; rc=$?
    SRV=
    if [ "$stopped" -eq 1 ]; then
        # The summary proves valgrind really ran (and says what it found).
        summary=$(grep -h "ERROR SUMMARY" "$log" | tail -1)
        echo "     $label: ${summary#==*== }"
        if [ "$rc" -eq 0 ] && echo "$summary" | grep -q "ERROR SUMMARY: 0 errors"; then
            ok "$label: exit status 0, no valgrind errors or leaks"
        else
            bad "$label: exit status 0, no valgrind errors or leaks" "status $rc"
            grep -E "ERROR SUMMARY|definitely|indirectly|Invalid|uninitialised" "$log" | head -20
        fi
    fi
    for _ in $(seq 300); do kill -0 "$CLI" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CLI" 2>/dev/null
    wait "$CLI" 2>/dev/null
    codes=$(grep '^CODES' "$TMP/client-$label.out" | cut -d' ' -f2-)
    if [ "$codes" = "1001 1001 1001 1001" ]; then
        ok "$label: every client got close 1001"
    else
        bad "$label: every client got close 1001" "codes: '${codes}' $(tail -3 "$TMP/client-$label.out")"
    fi
done
finish
