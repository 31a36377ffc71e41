#!/usr/bin/python3
"""Interop: wsc's echo_server driven by an independent client, Debian's python3-websockets.

Starts $WSC_BIN/echo_server (default build/asan/bin) on a free port in three configurations
(default, --blocking, inline handlers with a small-buffer pool), and for each runs text, binary,
fragmented, 1 MiB, ping, pipelined, concurrent, too-big (1009) and close-with-code exchanges, then
stops the server with SIGTERM (by PID) and checks that it exits with status 0 (which, under the
sanitizers, also means no leak). Every step is bounded in time. Prints `N passed, N failed` last.
"""
import asyncio
import os
import signal
import subprocess
import sys

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import harness  # noqa: E402
from harness import free_port, report, wait_listening  # noqa: E402

STEP_TIMEOUT = 30
HARD_LIMIT_SECONDS = 400
MAX_MESSAGE = 2 * 1024 * 1024


def connect(port):
    return websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None,
                                    open_timeout=STEP_TIMEOUT, close_timeout=STEP_TIMEOUT)


async def t_text(port):
    async with connect(port) as ws:
        for msg in ["hello", "", "h\u00e9llo w\u00f6rld \u20ac \U0001f600", "x" * 125, "y" * 126,
                    "z" * 65535]:
            await ws.send(msg)
            got = await ws.recv()
            assert got == msg, f"text of {len(msg)} chars came back different"


async def t_binary(port):
    async with connect(port) as ws:
        for n in [0, 1, 125, 126, 127, 65535, 65536]:
            data = bytes((i * 7 + n) % 256 for i in range(n))
            await ws.send(data)
            got = await ws.recv()
            assert isinstance(got, bytes) and got == data, f"binary of {n} bytes differs"


async def t_fragmented(port):
    async with connect(port) as ws:
        await ws.send(["frag1 ", "fr\u00e9g2 ", "", "frag3"])
        got = await ws.recv()
        assert got == "frag1 fr\u00e9g2 frag3", f"got {got!r}"
        parts = [bytes([i]) * (i * 100) for i in range(1, 20)]
        await ws.send(parts)
        got = await ws.recv()
        assert got == b"".join(parts), "fragmented binary differs"


async def t_one_mib(port):
    async with connect(port) as ws:
        data = os.urandom(1 << 20)
        await ws.send(data)
        got = await ws.recv()
        assert got == data, "1 MiB binary differs"
        text = ("0123456789abcd\u00e9\u20ac" * 70000)[: (1 << 20) // 2]
        await ws.send(text)
        got = await ws.recv()
        assert got == text, "large text differs"


async def t_ping(port):
    async with connect(port) as ws:
        for payload in [b"", b"abc", bytes(range(125))]:
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, STEP_TIMEOUT)
        await ws.send("after pings")
        assert await ws.recv() == "after pings"


async def t_pipelined(port):
    async with connect(port) as ws:
        msgs = [f"message {i} " + "p" * (i * 37 % 4000) for i in range(300)]
        for m in msgs:
            await ws.send(m)
        for m in msgs:
            got = await ws.recv()
            assert got == m, "pipelined message out of order or corrupted"


async def t_concurrent(port):
    async def one(k):
        async with connect(port) as ws:
            for i in range(20):
                m = f"client {k} message {i}"
                await ws.send(m)
                assert await ws.recv() == m
    await asyncio.gather(*(one(k) for k in range(20)))


async def t_close_codes(port):
    for code, reason in [(1000, "bye"), (4000, "custom"), (3001, ""), (1001, "going")]:
        ws = await connect(port)
        await ws.send("before close")
        assert await ws.recv() == "before close"
        await ws.close(code=code, reason=reason)
        assert ws.close_code == code, f"sent close {code}, server answered {ws.close_code}"


async def t_too_big(port):
    ws = await connect(port)
    try:
        await ws.send(b"\0" * (MAX_MESSAGE + 1))
        await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        raise AssertionError("an over-size message was echoed")
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    assert ws.close_code == 1009, f"close code {ws.close_code}, expected 1009"


async def t_bad_utf8(port):
    # The websockets client will not send invalid text, so write the frame by hand after a
    # handshake over a raw socket: masked text frame "\xff".
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101"), head[:40]
    key = b"\x01\x02\x03\x04"
    writer.write(b"\x81\x81" + key + bytes([0xff ^ key[0]]))
    frame = await asyncio.wait_for(reader.readexactly(4), STEP_TIMEOUT)
    assert frame[0] == 0x88 and frame[1] >= 2, frame
    code = int.from_bytes(frame[2:4], "big")
    assert code == 1007, f"close code {code}, expected 1007"
    writer.close()


TESTS = [t_text, t_binary, t_fragmented, t_one_mib, t_ping, t_pipelined, t_concurrent,
         t_close_codes, t_too_big, t_bad_utf8]


def run_config(binary, extra, label):
    port = free_port()
    cmd = [binary, "--port", str(port), "--max-message", str(MAX_MESSAGE)] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_listening(port, proc, 20):
            err = proc.stderr.read().decode(errors="replace")[-800:] if proc.poll() is not None else ""
            report(False, f"{label}: server starts", f"not listening on {port} {err}")
            return
        report(True, f"{label}: server starts")
        for t in TESTS:
            try:
                asyncio.run(asyncio.wait_for(t(port), STEP_TIMEOUT * 3))
                report(True, f"{label}: {t.__name__[2:]}")
            except Exception as e:  # any failure of one exchange is that test's failure
                report(False, f"{label}: {t.__name__[2:]}", f"{type(e).__name__}: {e}")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            report(False, f"{label}: SIGTERM stops the server", "still running after 20 s")
            return
        tail = proc.stderr.read().decode(errors="replace")[-1500:]
        report(rc == 0, f"{label}: exit status 0 after SIGTERM", f"status {rc}\n{tail}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    signal.signal(signal.SIGALRM, lambda *_: (print("hard time limit reached"),
                                             print(f"{harness.passed} passed, {harness.failed + 1} failed"),
                                             os._exit(1)))
    signal.alarm(HARD_LIMIT_SECONDS)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    binary = os.path.join(os.environ.get("WSC_BIN", "build/asan/bin"), "echo_server")
    if not os.access(binary, os.X_OK):
        report(False, "echo_server binary", f"{binary} not found (build it first)")
    else:
        for extra, label in [([], "default"), (["--blocking"], "blocking"),
                             (["--threads", "0", "--small-pool", "8"], "inline+pool")]:
            run_config(binary, extra, label)
    print(f"{harness.passed} passed, {harness.failed} failed")
    sys.exit(1 if harness.failed else 0)


if __name__ == "__main__":
    main()
