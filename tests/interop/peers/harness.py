"""What the interop scripts share: counting checks for the closing `N passed, N failed` line,
free loopback ports, and waiting until a server they started listens."""
import socket
import time

passed = 0
failed = 0


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds, connect_timeout=0.5):
    """True once 127.0.0.1:port accepts; False if proc exits or `seconds` pass first."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=connect_timeout):
                return True
        except OSError:
            time.sleep(0.05)
    return False
