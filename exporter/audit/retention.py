"""Retention: day files older than the spec's maximum are purged; nothing inside the minimum is.

A day file's age is whole days between its date and today (UTC): yesterday's file is 1 day old.
With ``retention_max_days`` 400 a file 400 days old is kept and one 401 days old is purged; with
``retention_min_days`` 180 a purge may remove files 180 days old or older, never younger ones.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from exporter.audit.files import day_files


class RetentionError(Exception):
    """A purge the retention minimum forbids; the message says which files and why."""


def expired(directory: Path, today: date, max_days: int) -> list[Path]:
    """Day files older than ``max_days``, oldest first."""
    return [path for day, path in day_files(directory) if (today - day).days > max_days]


def purge(directory: Path, before: date, *, today: date, min_days: int) -> list[Path]:
    """Delete the day files dated before ``before``; refuse, deleting nothing, when any of them is
    younger than ``min_days``. Returns the files deleted, oldest first."""
    youngest_allowed = today - timedelta(days=min_days)
    if before > youngest_allowed + timedelta(days=1):
        raise RetentionError(
            f"refusing to purge before {before.isoformat()}: files from {youngest_allowed + timedelta(days=1)} "
            f"on are inside the retention minimum of {min_days} days (purge before "
            f"{(youngest_allowed + timedelta(days=1)).isoformat()} at the latest)"
        )
    doomed = [path for day, path in day_files(directory) if day < before]
    for path in doomed:
        path.unlink()
    return doomed
