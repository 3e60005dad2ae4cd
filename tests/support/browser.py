"""Headless Chromium driven over the DevTools protocol: open pages, read the DOM, take screenshots.

One browser serves every page of a test module (starting Chromium per page would cost a second
each). Nothing here waits on a clock: a page is read when Chromium reports its load event, and the
only timeout is the socket's, against a hung browser.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

SOCKET_TIMEOUT_SECONDS = 60
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# What a test needs to know about a rendered page, read in the page itself.
_PAGE_FACTS = """
(() => {
  const article = document.querySelector("article.md-content__inner");
  const h1 = article ? article.querySelector("h1") : null;
  return {
    title: document.title,
    h1: h1 ? h1.textContent.replace(/\\s*¶$/, "").trim() : null,
    article_text: article ? article.innerText : "",
    ids: Array.from(document.querySelectorAll("[id]")).map(e => e.id),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => ({
      href: a.href, raw: a.getAttribute("href"), in_article: !!(article && article.contains(a)),
    })),
  };
})()
"""


@dataclass
class PageFacts:
    url: str
    title: str
    h1: str | None
    article_text: str
    ids: list[str]
    links: list[dict[str, Any]]
    exceptions: list[str] = field(default_factory=list)


class Browser:
    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="gatewatch-chromium-")
        self._process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        assert self._process.stderr is not None
        browser_url = None
        for line in self._process.stderr:
            match = _LISTENING.search(line)
            if match:
                browser_url = match.group(1)
                break
        if browser_url is None:
            raise RuntimeError(f"Chromium exited without a DevTools endpoint (code {self._process.wait()})")
        # Keep reading its log, or a chatty Chromium blocks on a full pipe.
        threading.Thread(target=self._process.stderr.read, daemon=True).start()
        http_base = "http://" + browser_url.split("/")[2]
        with urllib.request.urlopen(f"{http_base}/json/list", timeout=SOCKET_TIMEOUT_SECONDS) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        self._socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=SOCKET_TIMEOUT_SECONDS, suppress_origin=True,
        )
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _wait_for(self, event: str) -> None:
        while not any(e["method"] == event for e in self._events):
            message = json.loads(self._socket.recv())
            if "method" in message:
                self._events.append(message)

    def open(self, url: str) -> PageFacts:
        """Load ``url``, wait for its load event, and read the page."""
        self._events.clear()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        self._wait_for("Page.loadEventFired")
        facts = self.call("Runtime.evaluate", {"expression": _PAGE_FACTS, "returnByValue": True})
        exceptions = [e["params"]["exceptionDetails"].get("text", "")
                      for e in self._events if e["method"] == "Runtime.exceptionThrown"]
        return PageFacts(url=url, exceptions=exceptions, **facts["result"]["value"])

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, websocket.WebSocketException):
            pass
        finally:
            self._socket.close()
            try:
                self._process.wait(timeout=SOCKET_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._profile.cleanup()
