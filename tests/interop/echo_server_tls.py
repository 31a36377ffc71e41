#!/usr/bin/python3
"""Interop: wsc's echo_server over TLS (--tls-cert/--tls-key) with Debian's python3-websockets.

Makes certificates with the openssl command in a temporary directory, starts
$WSC_BIN/echo_server (default build/asan/bin) on a free port in three configurations (default,
--blocking, inline handlers), and for each: wss echo with TLS 1.2 and with TLS 1.3, large
messages; a certificate renewal (new files, SIGHUP: open connections keep working, new ones see
the new certificate); then with --tls-client-ca, a client without a certificate is refused and one
with a certificate is served. Stops the server with SIGTERM (by PID) and checks exit status 0
(under the sanitizers: no leak). Every step is bounded in time. Prints `N passed, N failed` last.
"""
import asyncio
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import harness  # noqa: E402
from harness import free_port, report, wait_listening  # noqa: E402

STEP_TIMEOUT = 30
HARD_LIMIT_SECONDS = 400


def make_cert(d, name, cn):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=STEP_TIMEOUT)
    return cert, key



def client_ctx(ca, version=None, cert=None):
    ctx = ssl.create_default_context(cafile=ca)
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def served_cn(ws):
    der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                         capture_output=True, timeout=STEP_TIMEOUT, check=True)
    return out.stdout.decode()


async def echo(ws, msg):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    assert got == msg, "echo differs"


async def t_versions(port, ca):
    for version in ("1.2", "1.3"):
        async with websockets.connect(f"wss://localhost:{port}/", ssl=client_ctx(ca, version),
                                      max_size=None) as ws:
            got = ws.transport.get_extra_info("ssl_object").version()
            assert got == "TLSv" + version, got
            for m in ["hello", "x" * 60000, bytes(range(256)) * 200]:
                await echo(ws, m)


async def t_reload(port, proc, certs, live):
    c1, c2 = certs
    async with websockets.connect(f"wss://localhost:{port}/", ssl=client_ctx(c1[0])) as old:
        assert "wsc-server-1" in served_cn(old)
        await echo(old, "before")
        # The renewal: the new files replace the old ones, then SIGHUP.
        shutil.copy(c2[0], live[0] + ".new")
        shutil.copy(c2[1], live[1] + ".new")
        os.replace(live[0] + ".new", live[0])
        os.replace(live[1] + ".new", live[1])
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + STEP_TIMEOUT
        cn = ""
        both = client_ctx(c1[0])
        both.load_verify_locations(c2[0])
        # The signal is handled asynchronously: look until the new certificate is served.
        while time.monotonic() < deadline and "wsc-server-2" not in cn:
            async with websockets.connect(f"wss://localhost:{port}/", ssl=both) as new:
                cn = served_cn(new)
                await echo(new, "after")
            if "wsc-server-2" not in cn:
                await asyncio.sleep(0.05)
        assert "wsc-server-2" in cn, cn
        await echo(old, "the old connection still works")


async def t_client_ca(port, ca, client):
    try:
        async with websockets.connect(f"wss://localhost:{port}/", ssl=client_ctx(ca)) as ws:
            await echo(ws, "no certificate")
        raise AssertionError("a client without a certificate was served")
    except (OSError, ssl.SSLError, websockets.exceptions.WebSocketException, EOFError):
        pass
    async with websockets.connect(f"wss://localhost:{port}/",
                                  ssl=client_ctx(ca, cert=client)) as ws:
        await echo(ws, "with a certificate")


def run_server(args):
    binary = os.path.join(os.environ.get("WSC_BIN", "build/asan/bin"), "echo_server")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port)] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if not wait_listening(port, proc, STEP_TIMEOUT, connect_timeout=1):
        proc.kill()
        proc.wait()
        return None, port
    return proc, port


def stop_server(proc, name):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    err = proc.stderr.read().decode(errors="replace")
    report(rc == 0, f"{name}: exits 0 on SIGTERM", f"status {rc}: {err[-2000:]}")


def main():
    signal.alarm(HARD_LIMIT_SECONDS)
    d = tempfile.mkdtemp(prefix="wsc-tls-interop-")
    try:
        c1 = make_cert(d, "one", "wsc-server-1")
        c2 = make_cert(d, "two", "wsc-server-2")
        client = make_cert(d, "client", "wsc-client")
        live = (os.path.join(d, "live.pem"), os.path.join(d, "live-key.pem"))
        for name, extra in [("default", []), ("blocking", ["--blocking"]),
                            ("inline", ["--threads", "0"])]:
            shutil.copy(c1[0], live[0])
            shutil.copy(c1[1], live[1])
            args = ["--tls-cert", live[0], "--tls-key", live[1], "--max-message", "1000000"]
            proc, port = run_server(args + extra)
            if not proc:
                report(False, f"{name}: echo_server starts")
                continue
            for test, coro in [("TLS 1.2 and 1.3 echo", t_versions(port, c1[0])),
                               ("certificate reload on SIGHUP", t_reload(port, proc, (c1, c2), live))]:
                try:
                    asyncio.run(asyncio.wait_for(coro, 4 * STEP_TIMEOUT))
                    report(True, f"{name}: {test}")
                except Exception as e:  # noqa: BLE001 - any failure is the test's
                    report(False, f"{name}: {test}", repr(e))
            stop_server(proc, name)

            shutil.copy(c1[0], live[0])
            shutil.copy(c1[1], live[1])
            proc, port = run_server(args + extra + ["--tls-client-ca", client[0]])
            if not proc:
                report(False, f"{name}: echo_server --tls-client-ca starts")
                continue
            try:
                asyncio.run(asyncio.wait_for(t_client_ca(port, c1[0], client), 4 * STEP_TIMEOUT))
                report(True, f"{name}: client certificate required")
            except Exception as e:  # noqa: BLE001
                report(False, f"{name}: client certificate required", repr(e))
            stop_server(proc, name + " --tls-client-ca")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"{harness.passed} passed, {harness.failed} failed")
    return 0 if harness.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
