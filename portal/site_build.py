"""Building the portal with MkDocs and serving the built site on loopback (for ``make run``).

Only tools call this: ``generate.py`` writes the MkDocs sources, never a built site.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path


class SiteBuildError(Exception):
    """``mkdocs build --strict`` refused the portal: its output says why."""


def build(mkdocs_yml: Path, site_dir: Path) -> None:
    """``mkdocs build --strict``: a broken link or a missing page fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # Never --quiet: in MkDocs 1.6 it hides warnings from the counter --strict reads, and a broken
    # link then passes.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(mkdocs_yml), "-d", str(site_dir)],
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        raise SiteBuildError(result.stdout + result.stderr)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(site_dir: Path, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``site_dir`` on 127.0.0.1 in a daemon thread; returns the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, bound = str(server.server_address[0]), server.server_address[1]
    return server, f"http://{host}:{bound}/"
