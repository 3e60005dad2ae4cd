"""The LiteLLM releases the conformance suite runs, and where their venvs live.

Two releases more than six months apart: the newest whose ``litellm[proxy]`` installs from PyPI
(1.110's ``proxy`` extra needs a ``litellm-proxy`` distribution, 1.109's a ``litellm-proxy-extras``
release, that PyPI does not carry) and 1.83.14 from April 2026. Each venv is built once by
``scripts/conformance-venv.sh`` from the release's lock file beside this module, and reused.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.paths import ROOT

RELEASES = ("1.83.14", "1.108.7")
# Releases whose content filter runs in logging_only mode (1.83 refuses the mode).
LOGGING_ONLY = frozenset({"1.108.7"})
# Releases whose generic logger clears its queue after an await: records queued while a batch is
# in flight are lost, and a batch the periodic flush also sends is posted twice (the exporter
# counts those duplicates; what was never posted nobody can count).
LOSSY_LOGGER = frozenset({"1.83.14"})
# Scenarios a release logs with another outcome than the request had: (release, scenario) ->
# the outcome its record states. 1.83 logs a stream the provider cut mid-way as a success.
LOGGED_AS = {("1.83.14", "stream_cut"): "success"}
VENV_SCRIPT = ROOT / "scripts" / "conformance-venv.sh"


def build(release: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_SCRIPT), "litellm", release], capture_output=True, text=True,
                          timeout=900, check=False)


def venv(release: str) -> str:
    """The release's venv directory, built on first use (under CI a failed build fails the
    suite; elsewhere, without PyPI, it skips)."""
    path = ROOT / ".cache" / "conformance" / f"litellm-{release}"
    done = build(release)  # returns at once when the venv is built and its lock unchanged
    if done.returncode != 0:
        message = f"could not build the litellm {release} venv:\n{done.stderr[-2000:]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return str(path)


if __name__ == "__main__":  # make conformance: build every release's venv, side by side
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(RELEASES)) as pool:
        results = dict(zip(RELEASES, pool.map(build, RELEASES), strict=True))
    failed = {release: done.stderr[-2000:] for release, done in results.items() if done.returncode != 0}
    if failed:
        raise SystemExit("\n".join(f"litellm {release}: {why}" for release, why in failed.items()))
