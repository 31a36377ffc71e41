#!/usr/bin/python3
"""Topics across two servers through Redis, behind nginx.

Starts a real redis-server on a free loopback port (its own temporary folder, no persistence), two
$WSC_BIN/broadcast_server (default build/asan/bin) attached to it, and nginx (its own configuration
made from examples/cluster/nginx.conf in a temporary folder, on a free port) balancing WebSocket
upgrades between them. Clients (Debian's python3-websockets) join one topic through nginx; then:

- both servers have subscribers (Redis shows two subscriptions to the topic's channel);
- three publishers on either server: every client receives every message exactly once, in each
  publisher's order;
- a subscriber connected straight to one server that never reads is closed by the server's
  max_buffered policy while everyone else receives every one of 300 messages of 60 kB;
- Redis is killed (SIGKILL) and restarted while a publisher keeps publishing: both servers log the
  loss and report the gap, delivery resumes (every message published after both resubscribed
  arrives everywhere), and nothing arrives twice or out of order.

Every process is started by this test and stopped by PID; the servers must exit with status 0 on
SIGTERM (under the sanitizers: no leak). Without redis-server, nginx, or a broadcast_server built
with hiredis, the test says it was skipped. Prints `N passed, N failed` last.
"""
import asyncio
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

STEP = 30  # seconds any one wait may take
HARD_LIMIT_SECONDS = 300
TOPIC = "/room"
CHANNEL = "wsc:" + TOPIC
CAP = 262144  # the servers' --max-buffered

passed = 0
failed = 0
procs = []


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, sig=signal.SIGTERM, seconds=20):
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    return proc.returncode


def wait_until(cond, seconds=STEP):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


async def await_until(cond, seconds=STEP):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.01)
    return cond()


def read_file(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def redis_command(port, *args):
    """One command in RESP; returns the first line of the answer (enough for PING and NUMSUB)."""
    req = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req.encode())
        data = b""
        end = time.monotonic() + 5
        while time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if args[0] == "PING" and data.endswith(b"\r\n"):
                break
            if args[0] == "PUBSUB" and re.search(rb":\d+\r\n", data):
                break
        return data.decode(errors="replace")


def numsub(port, channel):
    try:
        answer = redis_command(port, "PUBSUB", "NUMSUB", channel)
    except OSError:
        return -1
    m = re.search(r":(\d+)\r\n", answer)
    return int(m.group(1)) if m else -1


def start_redis(port, folder):
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
         "--save", "", "--appendonly", "no", "--daemonize", "no",
         "--logfile", os.path.join(folder, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(("redis-server", proc))

    def up():
        try:
            return "+PONG" in redis_command(port, "PING")
        except OSError:
            return False
    if not wait_until(up):
        raise RuntimeError("redis-server did not answer PING")
    return proc


def start_server(binary, name, redis_port, folder):
    log_path = os.path.join(folder, f"{name}.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary, "--port", "0", "--redis", f"redis://127.0.0.1:{redis_port}",
         "--max-buffered", str(CAP)],
        stdout=subprocess.PIPE, stderr=log, text=True)
    procs.append((name, proc))
    ready, _, _ = select.select([proc.stdout], [], [], STEP)
    line = proc.stdout.readline() if ready else ""
    m = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
    if not m:
        raise RuntimeError(f"{name}: no listening line: {line!r}; log: {read_file(log_path)}")
    return proc, int(m.group(1)), log_path


def start_nginx(folder, port, a, b):
    with open("examples/cluster/nginx.conf") as f:
        conf = f.read()
    conf = conf.replace("127.0.0.1:9225", f"127.0.0.1:{a}").replace("127.0.0.1:9226", f"127.0.0.1:{b}")
    conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}")
    os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
    path = os.path.join(folder, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    err = os.path.join(folder, "nginx-error.log")
    proc = subprocess.Popen(
        ["nginx", "-p", folder, "-c", path, "-e", err,
         "-g", f"daemon off; pid {os.path.join(folder, 'nginx.pid')};"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(("nginx", proc))

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return proc.poll() is not None
    if not wait_until(up) or proc.poll() is not None:
        raise RuntimeError(f"nginx did not start: {read_file(err)}")
    return proc


class Client:
    """A subscriber: records every message it reads as (publisher, tag, seq)."""

    def __init__(self, ws):
        self.ws = ws
        self.got = []
        self.bad = []
        self.task = asyncio.ensure_future(self.read())

    async def read(self):
        try:
            async for msg in self.ws:
                m = re.match(r"p(\d+) ([a-z]+)(\d+)", msg if isinstance(msg, str) else "")
                if not m:
                    self.bad.append(msg[:40])
                    continue
                self.got.append((int(m.group(1)), m.group(2), int(m.group(3))))
        except websockets.ConnectionClosed:
            pass

    def count(self, pub, tag):
        return sum(1 for p, t, _ in self.got if p == pub and t == tag)

    def has(self, pub, tag, seq):
        return (pub, tag, seq) in self.got

    def seqs(self, pub, tag):
        return [s for p, t, s in self.got if p == pub and t == tag]


def raw_subscriber(port, path):
    """A client that upgrades and then never reads, with a small fixed receive buffer."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    s.settimeout(STEP)
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError("no upgrade response")
        head += chunk
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"upgrade refused: {head!r}")
    return s


def closed_by_server(s, seconds=STEP * 2):
    """Reads (and discards) until the server ends the connection: EOF or reset."""
    s.settimeout(1)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if not s.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


async def scenario(binary, folder):
    redis_port = free_port()
    redis = start_redis(redis_port, folder)
    a, a_port, a_log = start_server(binary, "server-a", redis_port, folder)
    b, b_port, b_log = start_server(binary, "server-b", redis_port, folder)
    report(wait_until(lambda: "connected to redis" in read_file(a_log)
                      and "connected to redis" in read_file(b_log)),
           "both servers connect to redis", read_file(a_log) + read_file(b_log))
    nginx_port = free_port()
    nginx = start_nginx(folder, nginx_port, a_port, b_port)

    # ---- clients through nginx, spread over both servers
    clients = []
    for _ in range(6):
        ws = await websockets.connect(f"ws://127.0.0.1:{nginx_port}{TOPIC}", max_size=1 << 20)
        clients.append(Client(ws))
    report(await await_until(lambda: numsub(redis_port, CHANNEL) == 2),
           "nginx spreads the clients over both servers (both subscribe in redis)",
           f"NUMSUB {numsub(redis_port, CHANNEL)}")

    # ---- three publishers: every message once, in each publisher's order
    n = 100
    for seq in range(n):
        for p in range(3):
            await clients[p].ws.send(f"p{p} a{seq}")
    ok = await await_until(lambda: all(c.count(p, "a") >= n for c in clients for p in range(3)))
    ok = ok and all(c.seqs(p, "a") == list(range(n)) for c in clients for p in range(3))
    report(ok, "every client gets every message once, in each publisher's order",
           str([[len(c.seqs(p, "a")) for p in range(3)] for c in clients]))

    # ---- a subscriber that does not read: closed by policy, the others keep receiving
    slow = raw_subscriber(a_port, TOPIC)
    await await_until(lambda: numsub(redis_port, CHANNEL) == 2)
    big = 300
    filler = "x" * 60000
    window_ok = True
    for seq in range(big):
        # Paced by the slowest reader (two messages ahead at most): only the one that does not
        # read at all falls behind by max_buffered.
        if not await await_until(lambda: all(c.count(1, "b") >= seq - 2 for c in clients)):
            window_ok = False
            break
        await clients[1].ws.send(f"p1 b{seq} {filler}")
    ok = window_ok and await await_until(lambda: all(c.count(1, "b") >= big for c in clients))
    report(ok and all(c.seqs(1, "b") == list(range(big)) for c in clients),
           "readers get all 300 large messages while one subscriber does not read",
           str([c.count(1, "b") for c in clients]))
    report(closed_by_server(slow), "the subscriber that does not read is closed by the server")
    slow.close()

    # ---- Redis killed and restarted while a publisher publishes
    stop_pub = asyncio.Event()
    sent = [0]

    async def publisher():
        while not stop_pub.is_set():
            await clients[2].ws.send(f"p2 r{sent[0]}")
            sent[0] += 1
            await asyncio.sleep(0.01)  # a steady rate, not a wait for anything
    pub = asyncio.ensure_future(publisher())
    await await_until(lambda: all(c.count(2, "r") >= 20 for c in clients))
    os.kill(redis.pid, signal.SIGKILL)
    redis.wait(timeout=STEP)
    report(wait_until(lambda: "lost the link" in read_file(a_log)
                      and "lost the link" in read_file(b_log)),
           "both servers notice that redis is gone")
    at_loss = sent[0]
    await await_until(lambda: sent[0] >= at_loss + 20)
    redis = start_redis(redis_port, folder)
    gap_ok = await await_until(lambda: "redis gap of" in read_file(a_log)
                               and "redis gap of" in read_file(b_log))
    report(gap_ok, "both servers report the gap after redis is back",
           read_file(a_log)[-500:] + read_file(b_log)[-500:])
    report(await await_until(lambda: numsub(redis_port, CHANNEL) == 2),
           "both servers subscribe again", f"NUMSUB {numsub(redis_port, CHANNEL)}")
    resumed = sent[0]
    ok = await await_until(lambda: all(c.has(2, "r", resumed + 20) for c in clients))
    stop_pub.set()
    await pub
    report(ok, "delivery resumes on both servers after the restart")
    last = sent[0] - 1
    await await_until(lambda: all(c.has(2, "r", last) for c in clients))
    ok = True
    detail = ""
    for i, c in enumerate(clients):
        rs = c.seqs(2, "r")
        if rs != sorted(set(rs)):
            ok, detail = False, f"client {i}: duplicate or out of order"
        if any(s not in rs for s in range(resumed, last + 1)):
            ok, detail = False, f"client {i}: lost a message published after the resubscription"
    report(ok, "no message twice or out of order across the restart; none lost after it", detail)

    # ---- nothing arrived twice in the whole run, nothing unexpected
    dup = [i for i, c in enumerate(clients) if len(c.got) != len(set(c.got))]
    report(not dup and not any(c.bad for c in clients), "no duplicate in the whole run",
           f"clients {dup}")
    for c in clients:
        await c.ws.close()
        c.task.cancel()
    report(stop(nginx, signal.SIGQUIT) == 0, "nginx stops")
    report(stop(a) == 0, "server a exits 0 on SIGTERM", read_file(a_log)[-2000:])
    report(stop(b) == 0, "server b exits 0 on SIGTERM", read_file(b_log)[-2000:])
    report(stop(redis) == 0, "redis-server stops")


def on_alarm(signum, frame):
    raise TimeoutError(f"the test ran over {HARD_LIMIT_SECONDS} s")


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    binary = os.path.join(os.environ.get("WSC_BIN", "build/asan/bin"), "broadcast_server")
    for tool in ("redis-server", "nginx"):
        if not shutil.which(tool) and not os.access(f"/usr/sbin/{tool}", os.X_OK):
            print(f"cluster_redis: skipped: no {tool} (Debian: apt-get install redis-server nginx)")
            print("0 passed, 0 failed")
            return 0
    if not shutil.which("nginx"):
        os.environ["PATH"] += ":/usr/sbin"
    # Built without hiredis, it refuses --redis before it prints its listening line.
    probe = subprocess.Popen([binary, "--port", "0", "--redis", "redis://127.0.0.1:1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listening = "listening" in probe.stdout.readline()
    stop(probe)
    if not listening and "no Redis support" in probe.stderr.read():
        print("cluster_redis: skipped: broadcast_server was built without hiredis")
        print("0 passed, 0 failed")
        return 0
    folder = tempfile.mkdtemp(prefix="wsc-cluster-")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HARD_LIMIT_SECONDS)
    try:
        asyncio.run(scenario(binary, folder))
    except Exception as e:  # noqa: BLE001 -- any failure is reported, then everything is stopped
        report(False, "cluster scenario", f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        for name, proc in procs:
            if proc.poll() is None:
                stop(proc, signal.SIGKILL if name == "redis-server" else signal.SIGTERM)
        if failed:
            for name in ("server-a.log", "server-b.log", "nginx-error.log", "redis.log"):
                text = read_file(os.path.join(folder, name))
                if text:
                    print(f"---- {name} (last lines)\n{text[-1500:]}")
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
