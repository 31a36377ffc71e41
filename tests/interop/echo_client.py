#!/usr/bin/python3
"""echo_client (the example program) against python3-websockets, plain and TLS, and against
echo_server (wsc's own server example).

Uses $WSC_BIN/echo_client and $WSC_BIN/echo_server (default build/asan/bin) and
tests/interop/peers/ws_server.py. Prints
`N passed, N failed` last and exits non-zero on failure. Everything is bounded by timeouts and only
127.0.0.1 / localhost is used.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.join(ROOT, os.environ.get("WSC_BIN", "build/asan/bin"))
BIN = os.path.join(BIN_DIR, "echo_client")
SERVER = os.path.join(BIN_DIR, "echo_server")
PEER = os.path.join(HERE, "peers", "ws_server.py")

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def start_server(*args):
    p = subprocess.Popen([sys.executable, PEER, *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    line = p.stdout.readline()
    return p, int(line)


def stop_server(p):
    p.stdin.close()
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run(args, stdin=b""):
    try:
        r = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=60)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return -1, b"", b"timed out"


def against_echo_server():
    if not os.access(SERVER, os.X_OK):
        check("echo_server is built", False, SERVER)
        return
    srv = subprocess.Popen([SERVER, "--port", "0", "--max-message", "1000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = srv.stdout.readline().decode()
        port = int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
        lines = ["hello wsc", "", "ünïcödé", "b" * 100000] + [f"n{i}" for i in range(500)]
        rc, out, err = run([f"ws://127.0.0.1:{port}/"], ("\n".join(lines) + "\n").encode())
        check("against echo_server: exit 0", rc == 0, err.decode(errors="replace"))
        check("against echo_server: every line echoed", out.decode().split("\n")[:-1] == lines)
    finally:
        srv.terminate()
        try:
            rc = srv.wait(20)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = srv.wait()
        check("echo_server stops cleanly", rc == 0, srv.stderr.read().decode(errors="replace")[-2000:])


def main():
    if not os.access(BIN, os.X_OK):
        check("echo_client is built", False, BIN)
        return
    tmp = tempfile.mkdtemp(prefix="wsc-echo-client-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=wsc-test",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key,
                    "-out", cert], check=True, capture_output=True, timeout=60)
    plain, port = start_server()
    tls, tport = start_server("--tls", cert, key)
    try:
        url = f"ws://127.0.0.1:{port}/x?y=1"
        lines = ["hello", "", "ünïcödé ✓", "!path", "a" * 70000]
        rc, out, err = run([url], ("\n".join(lines) + "\n").encode())
        want = ["hello", "", "ünïcödé ✓", "/x?y=1", "a" * 70000]
        check("plain echo exits 0", rc == 0, err.decode(errors="replace"))
        check("plain echo prints each message on its line", out.decode().split("\n")[:-1] == want)

        many = [f"line {i}" for i in range(2000)]
        rc, out, err = run([url], ("\n".join(many)).encode())  # no final newline
        check("2000 lines echoed in order", rc == 0 and out.decode().split("\n")[:-1] == many,
              err.decode(errors="replace"))

        rc, out, err = run([url], b"")
        check("empty input: close handshake only", rc == 0 and out == b"", err.decode())

        turl = f"wss://localhost:{tport}/"
        rc, out, err = run(["--ca", cert, turl], b"secure\n")
        check("wss with --ca", rc == 0 and out == b"secure\n", err.decode())
        rc, out, err = run(["--ca", cert, f"wss://127.0.0.1:{tport}/"], b"by address\n")
        check("wss to an IP address with --ca", rc == 0 and out == b"by address\n", err.decode())
        rc, out, err = run([turl], b"refused\n")
        check("wss refuses a self-signed certificate by default",
              rc == 1 and b"WSC_ETLSVERIFY" in err, err.decode())
        rc, out, err = run(["--no-verify", turl], b"unverified\n")
        check("wss with --no-verify", rc == 0 and out == b"unverified\n", err.decode())

        rc, out, err = run(["--bogus", url])
        check("unknown option is a usage error", rc == 2 and b"usage" in err)
        rc, out, err = run(["--deflate", url], b"compressed\nhello hello hello\n")
        check("--deflate: lines echoed over a compressed connection",
              rc == 0 and out == b"compressed\nhello hello hello\n", err.decode())
        rc, out, err = run([])
        check("missing URL is a usage error", rc == 2)
        rc, out, err = run([url, "extra"])
        check("URL must be last", rc == 2)
        rc, out, err = run(["http://127.0.0.1/"])
        check("bad URL fails", rc == 1 and b"URL" in err)
        rc, out, err = run([f"ws://127.0.0.1:{port}/status/404"], b"x\n")
        check("non-101 answer is reported", rc == 1 and b"404" in err, err.decode())
        rc, out, err = run([url], b"before\n!close 4001 bye\nafter\n")
        check("server closing first is an error", rc == 1 and out.startswith(b"before\n"),
              err.decode())
    finally:
        stop_server(plain)
        stop_server(tls)
        shutil.rmtree(tmp, ignore_errors=True)
    against_echo_server()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash of the script itself is a failure, not a silent pass
        check("script ran", False, repr(e))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
