"""A headless Chromium driven over the DevTools protocol, for the dashboard's browser test and benchmark.

Debian's ``chromium`` (``scripts/install_browser.sh``; this machine cannot download browser
builds), started with a fresh profile and no background traffic, one page, talked to over its
DevTools WebSocket (``websocket-client``)::

    with Chromium() as browser:
        page = browser.page()
        page.set_cookie("_token", jwt, "http://127.0.0.1:8080")
        page.navigate("http://127.0.0.1:8080/etl/")
        page.wait_for("window.etlDashboard && window.etlDashboard.ready")
        page.screenshot(path)
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the setuid sandbox is not available
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
)


def available() -> str | None:
    """None when the browser can run here, else why not."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `bash scripts/install_browser.sh` installs Debian's chromium"
    return None


class BrowserError(RuntimeError):
    pass


class Page:
    """One tab over its DevTools WebSocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        # no Origin header: Chromium refuses DevTools connections from an origin it was not told to allow
        self._ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self.console_errors: list[str] = []
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def close(self) -> None:
        self._ws.close()

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict:
        """Call one DevTools method and return its result (events meanwhile are noted)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            self._ws.settimeout(max(deadline - time.monotonic(), 0.01))
            message = json.loads(self._ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._note(message)

    def _note(self, event: dict) -> None:
        if event.get("method") == "Runtime.exceptionThrown":
            details = event["params"]["exceptionDetails"]
            self.console_errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif event.get("method") == "Runtime.consoleAPICalled" and event["params"].get("type") == "error":
            self.console_errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in event["params"]["args"])
            )

    def set_cookie(self, name: str, value: str, url: str) -> None:
        self.send("Network.setCookie", name=name, value=value, url=url, httpOnly=True, sameSite="Lax")

    def navigate(self, url: str) -> None:
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"navigate {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, poll: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} not true within {timeout} s; page errors: {self.console_errors}")
            time.sleep(poll)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page."""
        size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        self.send(
            "Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=False
        )
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    """A headless Chromium with a fresh profile of its own (removed at the end)."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        self.size = (width, height)
        self._profile: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._pages: list[Page] = []
        self._log: Any = None
        self.port: int | None = None

    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        if why := available():
            raise BrowserError(why)
        self._profile = Path(tempfile.mkdtemp(prefix="etl-chromium-"))
        self._log = (self._profile / "chromium.log").open("wb")
        self._proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.size[0]},{self.size[1]}",
             "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self._proc.poll() is not None:
                tail = (self._profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise BrowserError(f"chromium exited with {self._proc.returncode}: {tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrowserError(f"chromium did not open its DevTools port within {timeout} s")
            time.sleep(0.1)
        self.port = int(port_file.read_text().splitlines()[0])

    def page(self) -> Page:
        """The browser's first tab."""
        targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=10).json()
        target = next(t for t in targets if t["type"] == "page")
        page = Page(target["webSocketDebuggerUrl"])
        self._pages.append(page)
        return page

    def stop(self) -> None:
        for page in self._pages:
            with contextlib.suppress(Exception):  # the browser may be gone already
                page.close()
        self._pages.clear()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
            self._log.close()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None
