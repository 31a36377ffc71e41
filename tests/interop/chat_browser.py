#!/usr/bin/python3
"""End to end: the chat demo in headless Chromium.

Starts $WSC_BIN/chat (default build/asan/bin) on a free loopback port (--port 0: it prints the URL),
fetches its page over plain HTTP, then starts Chromium headless with a new empty profile and drives it
over the DevTools protocol (a WebSocket, spoken with Debian's python3-websockets): two pages open
the chat, alice and bob join by typing their names, alice sends a line and both pages show it, bob
answers with non-ASCII text and both show that too. Screenshots of both pages, and of the two side by
side, go to build/browser/. Chromium is closed, then the chat server is stopped with SIGTERM (both
by PID) and must exit with status 0 (under the sanitizers: no leak). Every wait is bounded, and an
alarm ends the whole test. Without Chromium (/usr/bin/chromium, or $CHROMIUM) the test says it was
skipped. Prints `N passed, N failed` last.
"""
import asyncio
import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

STEP_TIMEOUT = 20
HARD_LIMIT_SECONDS = 150
OUT_DIR = "build/browser"
WIDTH, HEIGHT = 480, 640

passed = 0
failed = 0
procs = []  # (name, Popen) to stop at the end, whatever happens


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)


def stop(proc, sig=signal.SIGTERM, seconds=10, group=False):
    """Signals proc (or its process group: a browser's helpers) and waits; kills it after seconds."""
    if proc.poll() is None:
        try:
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the browser
        except ProcessLookupError:
            pass
    return proc.returncode


def start_chat(binary):
    proc = subprocess.Popen([binary, "--port", "0", "--address", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=None, text=True)
    procs.append(("chat", proc))
    ready, _, _ = select.select([proc.stdout], [], [], STEP_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    for word in line.split():
        if word.startswith("http://"):
            return proc, word
    raise RuntimeError(f"no URL from chat: {line!r}")


def start_chromium(chromium, profile):
    log = open(os.path.join(OUT_DIR, "chromium.log"), "w")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    procs.append(("chromium", proc))
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} (see {log.name})")
        try:
            with open(port_file) as f:
                port, path = f.read().split("\n")[:2]
            if port and path:
                return proc, f"ws://127.0.0.1:{port}{path}"
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError("chromium wrote no DevToolsActivePort")


class DevTools:
    """The browser's DevTools endpoint: commands with ids, pages reached by flat sessions."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.waiting = {}
        self.console = []  # page errors and console output, shown when a step fails
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            fut = self.waiting.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append(msg["params"]["exceptionDetails"].get("text", "exception"))
            elif msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in args))

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = fut
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, STEP_TIMEOUT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


class Page:
    def __init__(self, dt, session):
        self.dt, self.session = dt, session

    @classmethod
    async def open(cls, dt, width=WIDTH, height=HEIGHT):
        target = await dt.call("Target.createTarget", {"url": "about:blank"})
        attached = await dt.call("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True})
        page = cls(dt, attached["sessionId"])
        for method, params in [("Page.enable", {}), ("Runtime.enable", {}),
                               ("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1,
                                 "mobile": False}),
                               ("Emulation.setFocusEmulationEnabled", {"enabled": True})]:
            await page.call(method, params)
        return page

    async def call(self, method, params=None):
        return await self.dt.call(method, params, self.session)

    async def js(self, expr):
        r = await self.call("Runtime.evaluate",
                            {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    async def until(self, expr, what):
        end = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < end:
            if await self.js(expr):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    async def type_into(self, element_id, text):
        """Focuses the input and types text as keyboard input would insert it."""
        await self.js(f"document.getElementById('{element_id}').focus()")
        await self.call("Input.insertText", {"text": text})

    async def click(self, element_id):
        await self.js(f"document.getElementById('{element_id}').click()")

    async def screenshot(self, path):
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        data = base64.b64decode(shot["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data


def shown(sender, text):
    """JS: true once the log's last chat line is text from sender."""
    return ("(() => { const li = [...document.querySelectorAll('#log li.message')].pop();"
            f" return !!li && li.querySelector('.from').textContent === {json.dumps(sender)}"
            f" && li.lastChild.textContent === {json.dumps(text)}; }})()")


async def step(name, coro, dt=None):
    try:
        await coro
        report(True, name)
        return True
    except Exception as e:  # noqa: BLE001 -- a failed step is reported, the test goes on to clean up
        detail = f"{type(e).__name__}: {e}"
        if dt and dt.console:
            detail += f" (page console: {dt.console[-5:]})"
        report(False, name, detail)
        return False


async def drive(devtools_url, url):
    async with websockets.connect(devtools_url, max_size=None, ping_interval=None,
                                  open_timeout=STEP_TIMEOUT, close_timeout=5) as ws:
        dt = DevTools(ws)
        pages = {}

        async def open_pages():
            for name in ("alice", "bob"):
                pages[name] = await Page.open(dt)
                await pages[name].call("Page.navigate", {"url": url})
            for p in pages.values():
                await p.until("document.readyState === 'complete' && !!document.getElementById('join')",
                              "the page to load")
        if not await step("two pages load the chat", open_pages(), dt):
            return

        async def join_both():
            for name, p in pages.items():
                await p.type_into("name", name)
                await p.click("join")
                await p.until("document.getElementById('status').textContent === 'online'",
                              f"{name} online")
            await pages["alice"].until(
                "document.getElementById('online').textContent === '2 online'", "2 online")
        if not await step("alice and bob join", join_both(), dt):
            return

        async def say(sender, text):
            await pages[sender].type_into("text", text)
            await pages[sender].click("send")
            for name, p in pages.items():
                await p.until(shown(sender, text), f"{name} to show {sender}'s message")
        await step("alice sends; both pages show it", say("alice", "hello from alice"), dt)
        await step("bob answers in UTF-8; both pages show it",
                   say("bob", "gr\u00fc\u00dfe, alice \u2713 \u00e7a va?"), dt)

        async def screenshots():
            shots = {}
            for name, p in pages.items():
                shots[name] = await p.screenshot(os.path.join(OUT_DIR, f"chat-{name}.png"))
                assert shots[name][:8] == b"\x89PNG\r\n\x1a\n", f"{name}: not a PNG"
            # Side by side, composed by the browser itself: no imaging library needed.
            both = await Page.open(dt, 2 * WIDTH + 12, HEIGHT + 12)
            imgs = "".join(f'<img src="data:image/png;base64,{base64.b64encode(d).decode()}">'
                           for d in shots.values())
            html = ("<body style=\"margin:0;padding:6px;display:flex;gap:12px;background:#555\">"
                    + imgs + "</body>")
            await both.js(f"document.open(); document.write({json.dumps(html)}); document.close()")
            await both.until("[...document.images].length === 2 && "
                             "[...document.images].every(i => i.complete && i.naturalWidth > 0)",
                             "the screenshots to load")
            await both.screenshot(os.path.join(OUT_DIR, "chat.png"))
        await step(f"screenshots in {OUT_DIR}/ (chat.png: both pages)", screenshots(), dt)

        try:
            await dt.call("Browser.close")
        except Exception:  # noqa: BLE001 -- the browser may drop the connection as it closes
            pass
        dt.reader.cancel()


def on_alarm(signum, frame):
    raise TimeoutError(f"the test ran over {HARD_LIMIT_SECONDS} s")


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        print(f"chat_browser: skipped: no Chromium at {chromium} (Debian: apt-get install chromium)")
        print("0 passed, 0 failed")
        return 0
    binary = os.path.join(os.environ.get("WSC_BIN", "build/asan/bin"), "chat")
    os.makedirs(OUT_DIR, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="wsc-chat-browser-")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HARD_LIMIT_SECONDS)
    start = time.monotonic()
    chat = None
    try:
        chat, url = start_chat(binary)
        with urllib.request.urlopen(url, timeout=STEP_TIMEOUT) as r:
            body = r.read()
            report(r.status == 200 and r.headers.get_content_type() == "text/html"
                   and int(r.headers["Content-Length"]) == len(body) and b"<title>wsc chat" in body,
                   "the page over plain HTTP (GET /)")
        browser, devtools_url = start_chromium(chromium, profile)
        asyncio.run(drive(devtools_url, url))
        report(stop(browser, seconds=10, group=True) is not None, "chromium stopped")
    except Exception as e:  # noqa: BLE001 -- reported as a failure; cleanup follows
        report(False, "chat in Chromium", f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        for name, proc in procs:
            if name == "chromium" and proc.poll() is None:
                stop(proc, signal.SIGKILL, 5, group=True)
        if chat is not None:
            rc = stop(chat, signal.SIGTERM, 15)
            report(rc == 0, "chat server stops cleanly on SIGTERM", f"exit status {rc}")
        shutil.rmtree(profile, ignore_errors=True)
    print(f"browser test took {time.monotonic() - start:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
