#!/usr/bin/python3
"""Interop, permessage-deflate (RFC 7692) with Debian's python3-websockets, which compresses by
default.

Server side: $WSC_BIN/echo_server --deflate (default build/asan/bin) in five configurations (pool,
inline handlers, blocking mode, no context takeover, shared compressor), driven by the websockets
client: text, binary, fragmented, 1 MiB and 16 MiB messages, compressible and incompressible,
the negotiated parameters, a client that does not offer compression, and raw frames for what the
library client never sends: a decompression bomb (1009), corrupt deflate data (1007), invalid
UTF-8 inside compressed text (1007), RSV1 on a control frame or a continuation (1002).
Client side: $WSC_BIN/echo_client --echo --deflate against a websockets server, with and without
context takeover, which sends the same kinds of messages and checks every echo.
Every step is bounded in time; servers are stopped by PID. Prints `N passed, N failed` last.
"""
import asyncio
import os
import signal
import subprocess
import sys
import zlib

import websockets
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      ServerPerMessageDeflateFactory)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import harness  # noqa: E402
from harness import free_port, report, wait_listening  # noqa: E402

STEP_TIMEOUT = 60
HARD_LIMIT_SECONDS = 500
MAX_MESSAGE = 17 * 1024 * 1024
MiB = 1024 * 1024


def json_like(n):
    rec = b'{"id":%d,"user":"wsc","tags":["alpha","beta"],"score":%d,"ok":true}\n'
    out = bytearray()
    i = 0
    while len(out) < n:
        out += rec % (i, i * 7 % 1000)
        i += 1
    return bytes(out[:n])


def messages():
    """(name, message): compressible and incompressible, text and binary, small to 16 MiB."""
    rnd = os.urandom(16 * MiB)
    return [
        ("empty text", ""), ("hello", "Hello"), ("hello again", "Hello"),
        ("utf-8 text", "h\u00e9llo w\u00f6rld \u20ac \U0001f600" * 50),
        ("empty binary", b""), ("small binary", b"\x00\x01\x02"),
        ("64 KiB json", json_like(65536).decode()), ("64 KiB random", rnd[:65536]),
        ("1 MiB json", json_like(MiB).decode()), ("1 MiB random", rnd[:MiB]),
        ("16 MiB json", json_like(16 * MiB)), ("16 MiB random", rnd),
    ]


# ---- our server, their client --------------------------------------------------------------

def connect(port, **kw):
    return websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None, open_timeout=STEP_TIMEOUT,
                              close_timeout=STEP_TIMEOUT, **kw)


async def t_negotiated(port, label):
    async with connect(port) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        assert ext.startswith("permessage-deflate"), f"answer {ext!r}"
        if "takeover" in label or "shared" in label:
            assert "server_no_context_takeover" in ext, ext
        if "takeover" in label:
            assert "client_no_context_takeover" in ext, ext


async def t_echo_all(port, label):
    async with connect(port) as ws:
        for name, m in messages():
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            assert got == m, f"{name}: {len(got)} bytes back for {len(m)}"


async def t_fragmented(port, label):
    async with connect(port) as ws:
        for parts in (["frag", "ment", "ed"], [json_like(40000).decode()[i:i + 7000]
                                                   for i in range(0, 40000, 7000)]):
            await ws.send(parts)
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            assert got == "".join(parts), "fragmented text differs"
        parts = [os.urandom(3000) for _ in range(5)]
        await ws.send(parts)
        got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
        assert got == b"".join(parts), "fragmented binary differs"
        # A ping between fragments is answered (websockets interleaves none on its own: none here).


async def t_many_in_order(port, label):
    async with connect(port) as ws:
        msgs = [json_like(100 + 37 * i).decode() for i in range(200)]
        for m in msgs:
            await ws.send(m)
        for m in msgs:
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            assert got == m, "an echo came back out of order or changed"


async def t_no_offer(port, label):
    async with connect(port, compression=None) as ws:
        assert ws.response_headers.get("Sec-WebSocket-Extensions") is None
        for m in ["Hello", json_like(70000)]:
            await ws.send(m)
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == m


async def t_small_window(port, label):
    f = ClientPerMessageDeflateFactory(server_max_window_bits=9, client_max_window_bits=10)
    async with connect(port, extensions=[f]) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        assert "server_max_window_bits=9" in ext, ext
        for m in [json_like(100000).decode(), os.urandom(70000)]:
            await ws.send(m)
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == m


async def raw_session(port, offer=b"permessage-deflate"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n")
    if offer:
        head += b"Sec-WebSocket-Extensions: " + offer + b"\r\n"
    writer.write(head + b"\r\n")
    resp = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
    assert resp.startswith(b"HTTP/1.1 101"), resp[:40]
    return reader, writer, resp


def frame(first_byte, payload):
    key = b"\x11\x22\x33\x44"
    n = len(payload)
    if n < 126:
        h = bytes([first_byte, 0x80 | n])
    elif n < 65536:
        h = bytes([first_byte, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        h = bytes([first_byte, 0x80 | 127]) + n.to_bytes(8, "big")
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


async def expect_close(reader, writer, code):
    # Frames the server sent before its close (none expected here) are skipped.
    while True:
        h = await asyncio.wait_for(reader.readexactly(2), STEP_TIMEOUT)
        n = h[1] & 0x7f
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        body = await asyncio.wait_for(reader.readexactly(n), STEP_TIMEOUT)
        if h[0] & 0x0f == 8:
            got = int.from_bytes(body[:2], "big")
            assert got == code, f"close code {got}, expected {code}"
            writer.close()
            return


async def t_bomb(port, label):
    # 64 MiB of zeros compress to ~64 KiB: far over the 17 MiB cap once inflated.
    reader, writer, _ = await raw_session(port)
    writer.write(frame(0xC2, deflate(bytes(64 * MiB))))
    await expect_close(reader, writer, 1009)


async def t_bomb_fragmented(port, label):
    reader, writer, _ = await raw_session(port)
    z = deflate(bytes(64 * MiB))
    writer.write(frame(0x42, z[:1000]))
    for i in range(1000, len(z), 5000):
        writer.write(frame(0x00, z[i:i + 5000]))
    writer.write(frame(0x80, b""))
    await expect_close(reader, writer, 1009)


async def t_corrupt(port, label):
    reader, writer, _ = await raw_session(port)
    writer.write(frame(0xC1, b"\xff\xff\xff\xff"))
    await expect_close(reader, writer, 1007)


async def t_bad_utf8_inside(port, label):
    reader, writer, _ = await raw_session(port)
    writer.write(frame(0xC1, deflate(b"ok \xff not utf-8")))
    await expect_close(reader, writer, 1007)


async def t_rsv1_on_control(port, label):
    reader, writer, _ = await raw_session(port)
    writer.write(frame(0xC9, b"ping"))
    await expect_close(reader, writer, 1002)


async def t_rsv1_on_continuation(port, label):
    reader, writer, _ = await raw_session(port)
    z = deflate(b"Hello Hello Hello")
    writer.write(frame(0x41, z[:3]) + frame(0xC0, z[3:]))
    await expect_close(reader, writer, 1002)


async def t_rsv1_not_negotiated(port, label):
    reader, writer, resp = await raw_session(port, offer=None)
    assert b"permessage-deflate" not in resp
    writer.write(frame(0xC1, deflate(b"Hello")))
    await expect_close(reader, writer, 1002)


async def t_raw_rfc_vectors(port, label):
    # RFC 7692 7.2.3: one message in two frames, a stored block, and (with context takeover) a
    # message referring back into the one before; a ping between fragments.
    reader, writer, resp = await raw_session(port)
    hello = bytes([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
    writer.write(frame(0x41, hello[:3]) + frame(0x89, b"p") + frame(0x80, hello[3:]))
    want = 2
    if b"client_no_context_takeover" not in resp:
        writer.write(frame(0xC1, hello) + frame(0xC1, bytes([0xf2, 0x00, 0x11, 0x00, 0x00])))
        want += 2
    # Last: with the tail put back, the stored block leaves the stream inside an unfinished
    # stored block, so nothing compressed can follow it with context takeover.
    writer.write(frame(0xC1, bytes([0x00, 0x05, 0x00, 0xfa, 0xff]) + b"Hello"))
    inflater = zlib.decompressobj(-15)
    got = []
    while len(got) < want:
        h = await asyncio.wait_for(reader.readexactly(2), STEP_TIMEOUT)
        body = await asyncio.wait_for(reader.readexactly(h[1] & 0x7f), STEP_TIMEOUT)
        if h[0] & 0x0f == 0xA:
            assert body == b"p", "pong payload"
            continue
        if h[0] & 0x40:
            if b"server_no_context_takeover" in resp:
                inflater = zlib.decompressobj(-15)
            body = inflater.decompress(body + b"\x00\x00\xff\xff")
        got.append(body)
    assert got == [b"Hello"] * want, got
    writer.close()


SERVER_TESTS = [t_negotiated, t_echo_all, t_fragmented, t_many_in_order, t_no_offer,
                t_small_window, t_bomb, t_bomb_fragmented, t_corrupt, t_bad_utf8_inside,
                t_rsv1_on_control, t_rsv1_on_continuation, t_rsv1_not_negotiated,
                t_raw_rfc_vectors]


def run_server_config(binary, extra, label):
    port = free_port()
    cmd = [binary, "--port", str(port), "--max-message", str(MAX_MESSAGE), "--deflate"] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_listening(port, proc, 20):
            report(False, f"server {label}: starts", f"not listening on {port}")
            return
        for t in SERVER_TESTS:
            try:
                asyncio.run(asyncio.wait_for(t(port, label), STEP_TIMEOUT * 3))
                report(True, f"server {label}: {t.__name__[2:]}")
            except Exception as e:
                report(False, f"server {label}: {t.__name__[2:]}", f"{type(e).__name__}: {e}")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            report(False, f"server {label}: SIGTERM stops it", "still running after 30 s")
            return
        tail = proc.stderr.read().decode(errors="replace")[-1500:]
        report(rc == 0, f"server {label}: exit status 0 after SIGTERM", f"status {rc}\n{tail}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- our client, their server --------------------------------------------------------------

def run_client_config(binary, takeover):
    label = "takeover" if takeover else "no takeover"
    result = {}

    async def handler(ws):
        try:
            result["ext"] = ws.response_headers.get("Sec-WebSocket-Extensions", "")
            for name, m in messages():
                await ws.send(m)
                got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
                assert got == m, f"{name}: {len(got)} bytes back for {len(m)}"
            await ws.send(["frag", "ment", "ed"])
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == "fragmented"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, STEP_TIMEOUT)
            result["ok"] = True
        except Exception as e:
            result["error"] = f"{type(e).__name__}: {e}"
        await ws.close()

    async def main():
        f = ServerPerMessageDeflateFactory(server_no_context_takeover=not takeover,
                                           client_no_context_takeover=not takeover)
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=None,
                                    extensions=[f]) as server:
            port = server.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                binary, "--echo", "--deflate", f"ws://127.0.0.1:{port}/",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT * 3)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                return None, b"timed out"
            return proc.returncode, err

    rc, err = asyncio.run(main())
    ext = result.get("ext", "")
    report(ext.startswith("permessage-deflate") and
           (takeover or "client_no_context_takeover" in ext),
           f"client {label}: negotiated", repr(ext))
    report(result.get("ok", False), f"client {label}: every echo right", result.get("error", ""))
    report(rc == 0, f"client {label}: echo_client exits 0 after the server's close",
           f"status {rc}: {err.decode(errors='replace')[-800:] if err else ''}")


def main():
    signal.signal(signal.SIGALRM, lambda *_: (print("hard time limit reached"),
                                             print(f"{harness.passed} passed, {harness.failed + 1} failed"),
                                             os._exit(1)))
    signal.alarm(HARD_LIMIT_SECONDS)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    bindir = os.environ.get("WSC_BIN", "build/asan/bin")
    server = os.path.join(bindir, "echo_server")
    client = os.path.join(bindir, "echo_client")
    for extra, label in [([], "pool"), (["--threads", "0"], "inline"), (["--blocking"], "blocking"),
                         (["--deflate-no-takeover"], "no takeover"),
                         (["--deflate-shared", "--workers", "2"], "shared")]:
        run_server_config(server, extra, label)
    run_client_config(client, True)
    run_client_config(client, False)
    print(f"{harness.passed} passed, {harness.failed} failed")
    sys.exit(1 if harness.failed else 0)


if __name__ == "__main__":
    main()
