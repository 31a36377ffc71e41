#!/usr/bin/python3
"""An independent WebSocket server for the client's tests: Debian's python3-websockets.

    ws_server.py [--tls CERT KEY [tls12]]

Listens on 127.0.0.1 on a port the kernel picks and prints that port on its first line of standard
output. It exits when its standard input ends (so it never outlives the test that started it), on
SIGTERM, or after a hard time limit.

Every message is echoed as it came (text or binary), except text commands starting with "!":
    !frag N SIZE      a text message of SIZE bytes sent as N fragments
    !fragbin N SIZE   the same as binary
    !send SIZE        a binary message of SIZE bytes, byte i = i % 251
    !ping DATA        a ping carrying DATA; once the pong arrives, the text "pong DATA"
    !close CODE WHY   close with that code and reason
    !headers          the request's headers as text, "name: value" lines
    !path             the request path
    !subprotocol      the negotiated subprotocol ("" if none)
    !sni              the TLS server name the client sent ("" if none)
The path /status/NNN answers the upgrade with HTTP status NNN instead of 101.
"""
import asyncio
import http
import signal
import ssl
import sys

import websockets
from websockets.datastructures import Headers

HARD_LIMIT_SECONDS = 300
SNI = {}  # id of the SSL object -> server name it announced


def pattern(size):
    return bytes(i % 251 for i in range(size)) if size < 4096 else (bytes(range(251)) * (size // 251 + 1))[:size]


def text_of(size):
    letters = b"abcdefghijklmnopqrstuvwxyz"
    return (letters * (size // 26 + 1))[:size].decode()


def split(data, n):
    n = max(1, n)
    step = max(1, -(-len(data) // n))
    parts = [data[i:i + step] for i in range(0, len(data), step)] or [data[:0]]
    return parts


async def handler(ws, path=None):
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("!"):
                await command(ws, msg)
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def command(ws, msg):
    words = msg.split(" ", 2)
    cmd = words[0]
    if cmd in ("!frag", "!fragbin"):
        n, size = int(words[1]), int(words[2])
        data = text_of(size)
        if cmd == "!fragbin":
            data = data.encode()
        await ws.send(split(data, n))
    elif cmd == "!send":
        await ws.send(pattern(int(words[1])))
    elif cmd == "!ping":
        data = words[1] if len(words) > 1 else ""
        waiter = await ws.ping(data)
        await asyncio.wait_for(waiter, 10)
        await ws.send("pong " + data)
    elif cmd == "!close":
        code = int(words[1])
        why = words[2] if len(words) > 2 else ""
        await ws.close(code, why)
    elif cmd == "!headers":
        await ws.send("\n".join(f"{k}: {v}" for k, v in ws.request_headers.raw_items()))
    elif cmd == "!path":
        await ws.send(ws.path)
    elif cmd == "!subprotocol":
        await ws.send(ws.subprotocol or "")
    elif cmd == "!sni":
        ssl_object = ws.transport.get_extra_info("ssl_object")
        await ws.send(SNI.get(id(ssl_object)) or "")
    else:
        await ws.send("unknown command")


async def process_request(path, headers):
    if path.startswith("/status/"):
        status = int(path[len("/status/"):])
        return http.HTTPStatus(status), Headers([("Content-Type", "text/plain")]), b"refused by the test server\n"
    return None


async def main():
    ctx = None
    if len(sys.argv) >= 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        ctx.sni_callback = lambda obj, name, c: SNI.__setitem__(id(obj), name) or None
        if sys.argv[4:] == ["tls12"]:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or (not sys.stdin.buffer.read1(4096) and stop.set_result(None)))
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, max_size=None, max_queue=None,
                                ping_interval=None, compression=None, subprotocols=["chat"],
                                process_request=process_request, close_timeout=2,
                                write_limit=2 ** 20) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        try:
            await asyncio.wait_for(stop, HARD_LIMIT_SECONDS)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
