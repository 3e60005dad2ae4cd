"""Locating the real Prometheus and Alertmanager binaries.

Tests that need them skip on a developer machine without them, but under CI (env CI set) a
missing binary is a failure: those tests must run there, never silently skip.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(*names: str) -> str:
    """Path of the first binary found among ``names``; skip (or fail under CI) when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    message = f"{' / '.join(names)} not found on PATH (scripts/ensure-tools.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")
