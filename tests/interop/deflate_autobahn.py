#!/usr/bin/python3
"""Interop, permessage-deflate (RFC 7692): the parameter and size matrix of the conformance suite's
compression groups (12 and 13), with Debian's python3-autobahn as the independent peer.

Server side: $WSC_BIN/echo_server --deflate (default build/asan/bin) in pool, inline and blocking
modes and with the shared compressor. For every offer (the default one, server_no_context_takeover
asked for, server_max_window_bits 9 to 15 with and without it, client_max_window_bits 9 and 15 with
and without client_no_context_takeover, a bare offer; one asking for server_max_window_bits=8 must
be declined, alone or before a second offer, which is then taken) an AutobahnPython client checks the answer against what it
offered and sends, on one connection, messages of 16 B to 128 KiB: compressible and random UTF-8
text, compressible and random binary. Every echo must come back compressed and identical. Several
messages share a connection, so a server that kept its context where it agreed not to, or used a
larger window than agreed, leaves Autobahn's inflater unable to read the next message.
Client side: $WSC_BIN/echo_client --echo --deflate against an AutobahnPython server that answers
with each combination of server_no_context_takeover, client_no_context_takeover,
server_max_window_bits (8 to 15) and client_max_window_bits, sends the same matrix, closes, and
checks that echo_client exits 0; one that answers client_max_window_bits=8, which zlib cannot
compress with, must see echo_client refuse it.
Each (mode, combination, size, kind) is one check. Prints `N passed, N failed` last.
"""
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import zlib

from autobahn.asyncio.websocket import (WebSocketClientFactory, WebSocketClientProtocol,
                                        WebSocketServerFactory, WebSocketServerProtocol)
from autobahn.websocket.compress import (PerMessageDeflateOffer, PerMessageDeflateOfferAccept,
                                         PerMessageDeflateResponseAccept)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import harness  # noqa: E402
from harness import free_port, report, wait_listening  # noqa: E402

STEP_TIMEOUT = 30
HARD_LIMIT_SECONDS = 240
MAX_MESSAGE = 1024 * 1024

SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072]
KINDS = ["text", "random text", "binary", "random binary"]


# ---- the messages --------------------------------------------------------------------------

def json_like(rng, n):
    """Compressible, but each call a little different, so a message refers back to earlier ones."""
    out = bytearray()
    while len(out) < n:
        out += b'{"id":%d,"user":"wsc","tags":["alpha","beta"],"score":%d,"ok":true}\n' % (
            rng.randrange(1000000), rng.randrange(1000))
    return bytes(out[:n])


# Code points from one- to four-byte UTF-8 sequences, none of them surrogates.
RANGES = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x4e00, 0x9fff), (0x1f300, 0x1f5ff)]


def random_utf8(rng, n):
    """Random-ish UTF-8 of exactly n bytes: random code points, padded with ASCII at the end."""
    out = bytearray()
    while True:
        lo, hi = rng.choice(RANGES)
        ch = chr(rng.randint(lo, hi)).encode()
        if len(out) + len(ch) > n:
            break
        out += ch
    out += b"x" * (n - len(out))
    return bytes(out)


def make_message(rng, kind, size):
    """(payload bytes, is_binary)."""
    if kind == "text":
        return json_like(rng, size), False
    if kind == "random text":
        return random_utf8(rng, size), False
    if kind == "binary":
        return bytes(b ^ 0x5a for b in json_like(rng, size)), True
    return rng.randbytes(size), True


def matrix(sizes):
    return [(size, kind) for size in sizes for kind in KINDS]


# ---- offers and answers ------------------------------------------------------------------------

class Offer(PerMessageDeflateOffer):
    """An offer that can also name a value for client_max_window_bits (Autobahn's offer names none):
    the client then compresses with that window whatever the server answers."""

    def __init__(self, client_bits=0, server_bits=0, **kw):
        super().__init__(**kw)
        self.client_bits = client_bits
        if server_bits:
            self.request_max_window_bits = server_bits  # 8 too, which Autobahn's checks refuse

    def get_extension_string(self):
        s = super().get_extension_string()
        if self.client_bits:
            s = s.replace("client_max_window_bits", f"client_max_window_bits={self.client_bits}")
        return s


def server_offers():
    """(label, offer) for the conformance suite's group 13 and the window sizes around it."""
    out = [("default offer", Offer()),
           ("bare offer", Offer(accept_no_context_takeover=False, accept_max_window_bits=False)),
           ("server_no_context_takeover", Offer(request_no_context_takeover=True))]
    for bits in range(9, 16):
        out.append((f"server_max_window_bits={bits}", Offer(request_max_window_bits=bits)))
    for bits in (9, 15):
        out.append((f"server_max_window_bits={bits} server_no_context_takeover",
                    Offer(request_no_context_takeover=True, request_max_window_bits=bits)))
    for bits in (9, 15):
        out.append((f"client_max_window_bits={bits}",
                    Offer(client_bits=bits, accept_no_context_takeover=False)))
        out.append((f"client_max_window_bits={bits} client_no_context_takeover",
                    Offer(client_bits=bits)))
    out.append(("all four, 9 bits", Offer(client_bits=9, request_no_context_takeover=True,
                                          request_max_window_bits=9)))
    return [(label, [offer], True) for label, offer in out] + [
        # wsc never compresses with 8 bits (zlib cannot): it declines, as RFC 7692 allows, and
        # the echoes come back uncompressed; with a second offer it takes that one.
        ("server_max_window_bits=8 (declined)", [Offer(server_bits=8)], False),
        ("server_max_window_bits=8, then the default offer", [Offer(server_bits=8), Offer()], True)]


def check_response(offer, r):
    """What RFC 7692 section 7 lets a server answer to this offer; '' when it is right."""
    if offer.request_no_context_takeover and not r.server_no_context_takeover:
        return "server_no_context_takeover asked for but not answered"
    if offer.request_max_window_bits and not 8 <= r.server_max_window_bits <= offer.request_max_window_bits:
        return f"server_max_window_bits={offer.request_max_window_bits} asked for, answered {r.server_max_window_bits}"
    if r.client_max_window_bits and not offer.accept_max_window_bits:
        return "client_max_window_bits answered but not offered"
    if offer.client_bits and r.client_max_window_bits > offer.client_bits:
        return f"client_max_window_bits={r.client_max_window_bits} above the offered {offer.client_bits}"
    return ""


class Accept(PerMessageDeflateOfferAccept):
    """An answer with any of the four parameters, whether or not the client's offer named them
    (RFC 7692 7.1.1.1, 7.1.1.2, 7.1.2.1 let a server add server_no_context_takeover,
    client_no_context_takeover and server_max_window_bits on its own). Autobahn's own stream
    follows it: compressing with that window, resetting where it said so."""

    def __init__(self, offer, server_nct=False, server_bits=0, client_nct=False, client_bits=0):
        super().__init__(offer)
        self.no_context_takeover = server_nct or offer.request_no_context_takeover
        # Autobahn compresses with zlib, which has no 8-bit raw window; see RleOnly.
        self.window_bits = max(server_bits, 9) if server_bits else None
        self.request_no_context_takeover = client_nct
        self.request_max_window_bits = client_bits
        self.answer = "permessage-deflate"
        if self.no_context_takeover:
            self.answer += "; server_no_context_takeover"
        if server_bits:
            self.answer += f"; server_max_window_bits={server_bits}"
        if client_nct:
            self.answer += "; client_no_context_takeover"
        if client_bits:
            self.answer += f"; client_max_window_bits={client_bits}"

    def get_extension_string(self):
        return self.answer


def client_policies():
    """(label, keyword arguments of Accept): every combination the echo client must follow."""
    out = [("default answer", {}),
           ("server_no_context_takeover", {"server_nct": True}),
           ("client_no_context_takeover", {"client_nct": True}),
           ("both no_context_takeover", {"server_nct": True, "client_nct": True})]
    for bits in range(9, 16):
        out.append((f"server_max_window_bits={bits}", {"server_bits": bits}))
    for bits in (9, 15):
        out.append((f"server_max_window_bits={bits} server_no_context_takeover",
                    {"server_bits": bits, "server_nct": True}))
        out.append((f"client_max_window_bits={bits}", {"client_bits": bits}))
        out.append((f"client_max_window_bits={bits} client_no_context_takeover",
                    {"client_bits": bits, "client_nct": True}))
    out.append(("all four, 9 bits", {"server_bits": 9, "server_nct": True, "client_bits": 9,
                                     "client_nct": True}))
    # An 8-bit window for the server's messages, sent by a compressor that never refers back
    # further than one byte (valid in any window).
    out.append(("server_max_window_bits=8", {"server_bits": 8}))
    out.append(("server_max_window_bits=8 server_no_context_takeover",
                {"server_bits": 8, "server_nct": True}))
    return out


def rle_only(pmc):
    """Makes Autobahn's compressor use zlib's Z_RLE strategy: matches at distance 1 only, so its
    output is valid for an 8-bit window, which zlib's deflate cannot be asked for."""
    def start():
        if pmc._compressor is None or pmc.server_no_context_takeover:
            pmc._compressor = zlib.compressobj(6, zlib.DEFLATED, -9, 8, zlib.Z_RLE)
    pmc.start_compress_message = start


# ---- a peer that sends the matrix and checks the echoes ----------------------------------------

class Sender:
    """Shared by both roles: sends each message, waits for its echo, checks it came back the same
    and compressed, and records one result per (size, kind)."""

    def on_ready(self, want_compressed=True):
        self.want_compressed = want_compressed
        self.echoes = asyncio.Queue()
        self.closed = asyncio.get_event_loop().create_future()
        self.results = []

    def on_message(self, proto, payload, is_binary):
        self.echoes.put_nowait((payload, is_binary, proto._isMessageCompressed))

    def on_close(self, was_clean, code, reason):
        if not self.closed.done():
            self.closed.set_result((was_clean, code, reason))

    def _dataReceived(self, data):
        # Autobahn lets an inflate error (zlib.error) escape to the event loop and keeps the
        # connection open; here it ends the connection and the check names it.
        try:
            super()._dataReceived(data)
        except Exception as e:
            if hasattr(self, "closed") and not self.closed.done():
                self.closed.set_result(f"{type(e).__name__}: {e}")
            self.transport.abort()

    async def send_matrix(self, proto, cases, seed):
        rng = random.Random(seed)
        for size, kind in cases:
            payload, is_binary = make_message(rng, kind, size)
            proto.sendMessage(payload, isBinary=is_binary)
            get = asyncio.ensure_future(self.echoes.get())
            done, _ = await asyncio.wait([get, self.closed], timeout=STEP_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                why = f"closed: {self.closed.result()}" if self.closed.done() else "no echo in time"
                self.results.append((size, kind, why))
                return False
            got, got_binary, compressed = get.result()
            why = ""
            if got_binary != is_binary:
                why = "came back as the other type"
            elif got != payload:
                first = next((i for i in range(min(len(got), len(payload))) if got[i] != payload[i]),
                             min(len(got), len(payload)))
                why = f"{len(got)} bytes back for {len(payload)}, first difference at {first}"
            elif compressed != self.want_compressed:
                why = "echo not compressed" if self.want_compressed else "echo compressed"
            self.results.append((size, kind, why))
        return True


class ClientProto(Sender, WebSocketClientProtocol):
    def onOpen(self):
        self.on_ready(self.factory.want_compressed)
        self.factory.opened.set_result(self)

    def onMessage(self, payload, isBinary):
        self.on_message(self, payload, isBinary)

    def onClose(self, wasClean, code, reason):
        if not self.factory.opened.done():
            self.factory.opened.set_exception(ConnectionError(f"no handshake: {reason}"))
        if hasattr(self, "closed"):
            self.on_close(wasClean, code, reason)


def report_results(prefix, cases, results, setup_error=""):
    """One check per (size, kind): each fails with a wrong handshake, and those never reached fail
    with the reason the run stopped."""
    done = {(size, kind): why for size, kind, why in results}
    stop = next((why for _, _, why in results if why), "")
    for size, kind in cases:
        why = setup_error or done.get((size, kind), f"not reached: {stop}")
        report(why == "", f"{prefix} {kind} {size} B", why)


async def run_offer(port, label, offers, want_compressed, cases, seed):
    offer = offers[-1]  # what the answer is checked against (the first ones are declined)
    loop = asyncio.get_event_loop()
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/")
    factory.protocol = ClientProto
    factory.opened = loop.create_future()
    factory.want_compressed = want_compressed
    answered = {}

    def accept(response):
        answered["response"] = response
        # Inflate and deflate exactly as agreed; with a client window offered, compress with it.
        bits = None if response.client_max_window_bits else (offer.client_bits or None)
        return PerMessageDeflateResponseAccept(response, window_bits=bits)

    factory.setProtocolOptions(perMessageCompressionOffers=offers,
                               perMessageCompressionAccept=accept,
                               maxMessagePayloadSize=0, maxFramePayloadSize=0,
                               autoFragmentSize=0, openHandshakeTimeout=STEP_TIMEOUT,
                               closeHandshakeTimeout=STEP_TIMEOUT)
    transport = None
    try:
        transport, _ = await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", port),
                                              STEP_TIMEOUT)
        proto = await asyncio.wait_for(factory.opened, STEP_TIMEOUT)
    except Exception as e:
        if transport:
            transport.abort()
        return f"handshake: {type(e).__name__}: {e}", []
    response = answered.get("response")
    offered = ", ".join(repr(o.get_extension_string()) for o in offers)
    print(f"     {label}: offered {offered}, answered {response!r}", flush=True)
    if (response is not None) != want_compressed:
        wrong = "declined" if response is None else "accepted"
    else:
        wrong = check_response(offer, response) if response else ""
    await proto.send_matrix(proto, cases, seed)
    proto.sendClose(1000)
    try:
        await asyncio.wait_for(asyncio.shield(proto.closed), STEP_TIMEOUT)
    except asyncio.TimeoutError:
        transport.abort()
    return (f"answer {response!r}: {wrong}" if wrong else ""), proto.results


def run_server_mode(binary, extra, mode, sizes):
    port = free_port()
    cmd = [binary, "--port", str(port), "--max-message", str(MAX_MESSAGE), "--deflate"] + extra
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_listening(port, proc, 20):
            report(False, f"server {mode}: starts", f"not listening on {port}")
            return
        cases = matrix(sizes)
        for i, (label, offers, want_compressed) in enumerate(server_offers()):
            wrong, results = asyncio.run(run_offer(port, label, offers, want_compressed, cases, i))
            report_results(f"server {mode}, {label}:", cases, results, wrong)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            report(False, f"server {mode}: SIGTERM stops it", "still running after 30 s")
            return
        tail = proc.stderr.read().decode(errors="replace")[-1500:]
        report(rc == 0, f"server {mode}: exit status 0 after SIGTERM", f"status {rc}\n{tail}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- our client, their server --------------------------------------------------------------

class ServerProto(Sender, WebSocketServerProtocol):
    def onOpen(self):
        self.on_ready()
        f = self.factory
        if f.rle_only:
            rle_only(self._perMessageCompress)
        asyncio.ensure_future(self.run(f))

    async def run(self, f):
        await self.send_matrix(self, f.cases, f.seed)
        self.sendClose(1000)
        f.finished.set_result(self.results)

    def onMessage(self, payload, isBinary):
        self.on_message(self, payload, isBinary)

    def onClose(self, wasClean, code, reason):
        if hasattr(self, "closed"):
            self.on_close(wasClean, code, reason)


async def run_policy(binary, label, policy, cases, seed):
    loop = asyncio.get_event_loop()
    factory = WebSocketServerFactory()
    factory.protocol = ServerProto
    factory.cases = cases
    factory.seed = seed
    factory.rle_only = policy.get("server_bits") == 8
    factory.finished = loop.create_future()
    offered = {}

    def accept(offers):
        for offer in offers:
            if isinstance(offer, PerMessageDeflateOffer):
                offered["offer"] = offer.get_extension_string()
                return Accept(offer, **policy)
        return None

    factory.setProtocolOptions(perMessageCompressionAccept=accept, maxMessagePayloadSize=0,
                               maxFramePayloadSize=0, autoFragmentSize=0,
                               openHandshakeTimeout=STEP_TIMEOUT,
                               closeHandshakeTimeout=STEP_TIMEOUT)
    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        binary, "--echo", "--deflate", f"ws://127.0.0.1:{port}/",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    waiter = asyncio.ensure_future(proc.communicate())
    done, _ = await asyncio.wait([factory.finished, waiter], timeout=STEP_TIMEOUT * 2,
                                 return_when=asyncio.FIRST_COMPLETED)
    results = factory.finished.result() if factory.finished.done() else []
    try:
        _, err = await asyncio.wait_for(waiter, STEP_TIMEOUT)
        rc = proc.returncode
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        rc, err = None, b"timed out"
    server.close()
    await server.wait_closed()
    print(f"     {label}: echo_client offered {offered.get('offer')!r}", flush=True)
    setup = "" if offered else "echo_client offered no permessage-deflate"
    if not results and not setup:
        setup = f"no connection; echo_client status {rc}: {err.decode(errors='replace')[-400:]}"
    return setup, results, rc, err


def run_client_policies(binary, sizes):
    cases = matrix(sizes)
    for i, (label, policy) in enumerate(client_policies()):
        setup, results, rc, err = asyncio.run(run_policy(binary, label, policy, cases, 1000 + i))
        report_results(f"client, {label}:", cases, results, setup)
        report(rc == 0, f"client, {label}: echo_client exits 0 after the close",
               f"status {rc}: {err.decode(errors='replace')[-800:]}")
    # wsc cannot compress with an 8-bit window (zlib cannot): the client fails the connection,
    # saying why, rather than compress with a window larger than the server agreed to.
    _, _, rc, err = asyncio.run(run_policy(binary, "client_max_window_bits=8", {"client_bits": 8},
                                           matrix([16]), 2000))
    text = err.decode(errors="replace")
    report(rc not in (0, None) and "client_max_window_bits=8" in text,
           "client, client_max_window_bits=8 answered: echo_client refuses it", f"status {rc}: {text[-400:]}")


def main():
    signal.signal(signal.SIGALRM, lambda *_: (print("hard time limit reached"),
                                             print(f"{harness.passed} passed, {harness.failed + 1} failed"),
                                             os._exit(1)))
    signal.alarm(HARD_LIMIT_SECONDS)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    bindir = os.environ.get("WSC_BIN", "build/asan/bin")
    server = os.path.join(bindir, "echo_server")
    client = os.path.join(bindir, "echo_client")
    start = time.monotonic()
    for extra, mode, sizes in [([], "pool", SIZES), (["--threads", "0"], "inline", SIZES),
                               (["--blocking"], "blocking", SIZES),
                               (["--deflate-shared", "--workers", "2"], "shared compressor", SIZES)]:
        run_server_mode(server, extra, mode, sizes)
    run_client_policies(client, SIZES)
    print(f"took {time.monotonic() - start:.1f} s")
    print(f"{harness.passed} passed, {harness.failed} failed")
    sys.exit(1 if harness.failed else 0)


if __name__ == "__main__":
    main()
