#!/usr/bin/python3
"""A WebSocket server of its own, on sockets and the standard library only, for the tests of
`wsc connect`: it sends what a well-behaved server library would not (broken frames, a dropped
connection) and checks a client's echoes byte by byte.

    raw_ws_server.py

Listens on 127.0.0.1 on a port the kernel picks and prints that port on its first line of standard
output. Each connection is served on its own thread. It exits when its standard input ends (so it
never outlives the test that started it), on SIGTERM, or after a hard time limit.

What it does depends on the request path:
    /echo-check   sends text, binary, empty, 70,000-byte and fragmented messages (with a ping
                  between the fragments) one at a time and expects each back unchanged with its
                  type, and a pong carrying the ping's payload; then closes with 1000 when all
                  came back, or with 4000 and what differed
    /bad-utf8     sends a text message that is not UTF-8
    /bad-opcode   sends a frame with the reserved opcode 3
    /close/CODE   closes with CODE and the reason "bye"
    /drop         closes the TCP connection without a close frame
    /status/NNN   answers the upgrade with HTTP status NNN instead of 101
After what it sent, it reads and answers the client (pongs, the close handshake) until the client
hangs up.
"""
import base64
import hashlib
import os
import signal
import socket
import struct
import sys
import threading

HARD_LIMIT_SECONDS = 120
IO_TIMEOUT = 10
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Mismatch(Exception):
    pass


def frame(opcode, payload=b"", fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def close_frame(code, reason=""):
    return frame(8, struct.pack("!H", code) + reason.encode()[:123])


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the client hung up")
        data += chunk
    return data


def read_frame(sock):
    """One frame from the client: (fin, opcode, payload), unmasked. Client frames must be masked."""
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    if not b1 & 0x80:
        raise Mismatch("an unmasked frame from the client")
    key = read_exact(sock, 4)
    data = bytearray(read_exact(sock, n))
    for i in range(n):
        data[i] ^= key[i % 4]
    return bool(b0 & 0x80), b0 & 0x0F, bytes(data)


def read_message(sock, pongs):
    """The next text, binary or close message; pongs are collected, pings answered."""
    parts, first = [], None
    while True:
        fin, op, data = read_frame(sock)
        if op == 9:
            sock.sendall(frame(10, data))
            continue
        if op == 10:
            pongs.append(data)
            continue
        if op == 8:
            return 8, data
        if op != 0:
            first = op
        parts.append(data)
        if fin:
            return first, b"".join(parts)


def handshake(sock):
    """Reads the upgrade request; returns (path, key)."""
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = sock.recv(4096)
        if not chunk or len(req) > 16384:
            raise EOFError("no complete upgrade request")
        req += chunk
    lines = req.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return path, headers.get("sec-websocket-key", "")


def accept(sock, key):
    digest = hashlib.sha1((key + GUID).encode()).digest()
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + base64.b64encode(digest) + b"\r\n\r\n")


def echo_check(sock):
    """Returns None when every echo matched, else what differed."""
    pongs = []
    big = bytes(i % 251 for i in range(70000))
    cases = [(1, "hello".encode()), (2, bytes(range(256))), (1, b""), (2, b""), (2, big),
             (1, "h\u00e9llo w\u00f6rld \u20ac".encode())]
    for op, payload in cases:
        sock.sendall(frame(op, payload))
        got = read_message(sock, pongs)
        if got != (op, payload):
            return f"sent opcode {op} with {len(payload)} bytes, got opcode {got[0]} with {len(got[1])}"
    # A fragmented text with a ping between its fragments (section 5.4 allows it).
    sock.sendall(frame(1, b"frag", fin=False) + frame(9, b"p1") + frame(0, b"men", fin=False) +
                 frame(0, b"ted"))
    got = read_message(sock, pongs)
    if got != (1, b"fragmented"):
        return f"the fragmented message came back as {got!r}"
    if b"p1" not in pongs:
        return f"no pong for the ping (pongs: {pongs!r})"
    return None


def drain(sock):
    """Answers the client until it hangs up: pongs, and the close handshake."""
    try:
        while True:
            fin, op, data = read_frame(sock)
            if op == 9:
                sock.sendall(frame(10, data))
            elif op == 8:
                sock.sendall(frame(8, data[:2]))
                return
    except (EOFError, OSError, Mismatch):
        return


def serve(sock):
    sock.settimeout(IO_TIMEOUT)
    try:
        path, key = handshake(sock)
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
            sock.sendall(f"HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            return
        accept(sock, key)
        if path == "/echo-check":
            try:
                why = echo_check(sock)
            except Mismatch as e:
                why = str(e)
            sock.sendall(close_frame(1000) if why is None else close_frame(4000, "mismatch: " + why))
            if why is not None:
                print(f"echo-check: {why}", file=sys.stderr, flush=True)
        elif path == "/bad-utf8":
            sock.sendall(frame(1, b"caf\xc3"))
        elif path == "/bad-opcode":
            sock.sendall(frame(3, b"x"))
        elif path.startswith("/close/"):
            sock.sendall(close_frame(int(path[len("/close/"):]), "bye"))
        elif path == "/drop":
            return
        drain(sock)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        sock.close()


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGALRM, lambda *_: os._exit(1))
    signal.alarm(HARD_LIMIT_SECONDS)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)

    def accept_loop():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    while sys.stdin.buffer.read1(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
