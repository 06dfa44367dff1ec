"""Load a local HTML page in headless Chromium over the DevTools protocol, with no package but the browser.

``--remote-debugging-pipe`` makes Chromium read protocol messages (JSON, each ended
by a NUL byte) on file descriptor 3 and write its answers and events on 4, so no port
is opened and no websocket client is needed. :func:`load_page` opens the page, waits
for its load event (an event, never a sleep), runs a few DOM queries and takes a
screenshot, and returns what the page asked of the network and wrote to the console.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "load_page"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium():
    """The path of a Chromium-family browser on PATH (``SKCLIP_CHROMIUM`` first), or None."""
    named = os.environ.get("SKCLIP_CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.path.isfile(named) else None)
    return next((found for found in map(shutil.which, CANDIDATES) if found), None)


class _Pipe:
    def __init__(self, browser, profile):
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()

        def wire_descriptors():
            # Duplicate first: a pipe end may already be 3 or 4, and dup2 onto itself keeps close-on-exec.
            incoming, outgoing = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(incoming, 3)
            os.dup2(outgoing, 4)

        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            preexec_fn=wire_descriptors,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._last_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode("utf-8") + b"\0")
        return self._last_id

    def receive(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (did it fail to start?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(message)
        if message.get("method") == "Page.javascriptDialogOpening":
            # An alert would block the page (and this loop) for ever: record it, dismiss it, go on.
            self.send("Page.handleJavaScriptDialog", {"accept": False}, message.get("sessionId"))
        return message

    def call(self, method, params=None, session=None):
        ident = self.send(method, params, session)
        while True:
            message = self.receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method):
        while True:
            message = self.receive()
            self.events.append(message)
            if message.get("method") == method:
                return message

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


def load_page(browser, page, queries, screenshot):
    """Open ``page`` (a local file), evaluate ``queries`` and save a PNG screenshot of the whole page.

    Parameters
    ----------
    browser : str
        The Chromium executable.
    page : pathlib.Path
        The HTML file.
    queries : dict of str to str
        ``{name: JavaScript expression}``, each evaluated after the load event.
    screenshot : pathlib.Path
        Where the PNG goes.

    Returns
    -------
    result : dict
        ``values`` (``{name: value}``), ``requests`` (URLs the page asked for,
        itself and ``data:`` URIs left out), ``console`` (console messages and
        log entries of level error or warning, uncaught exceptions included) and
        ``dialogs`` (any alert the page opened).
    """
    page_url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        pipe = _Pipe(browser, profile)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Page.navigate", {"url": page_url}, session=session)
            pipe.wait_for("Page.loadEventFired")
            values = {}
            for name, expression in queries.items():
                answer = pipe.call(
                    "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
                )
                if "exceptionDetails" in answer:
                    raise RuntimeError(f"query {name!r} failed: {answer['exceptionDetails']}")
                values[name] = answer["result"].get("value")
            shot = pipe.call(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session=session
            )
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        finally:
            pipe.close()
    requests, console, dialogs = [], [], []
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page_url and not url.startswith("data:"):
                requests.append(url)
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
            console.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
        elif method == "Runtime.exceptionThrown":
            console.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            console.append(params["entry"]["text"])
        elif method == "Page.javascriptDialogOpening":
            dialogs.append(params.get("message"))
    return {"values": values, "requests": requests, "console": console, "dialogs": dialogs}
