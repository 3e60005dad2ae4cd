#!/usr/bin/env bash
# Builds (once) the cached venv a conformance suite runs a real gateway from:
#   scripts/conformance-venv.sh litellm 1.108.7   ->  .cache/conformance/litellm-1.108.7/
# Every distribution is pinned by tests/conformance/<gateway>/lock-<version>.txt (pip freeze of a
# venv that passed the suite), so a later release of a dependency cannot change what is tested.
# The venv is complete only when its .installed marker exists, so an interrupted build is redone,
# and it is rebuilt when its lock file changes.
set -euo pipefail
gateway="$1"
version="$2"
case "$gateway" in
  litellm) requirement="litellm[proxy]==${version}" ;;
  *) echo "unknown gateway: $gateway" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/conformance/${gateway}-${version}"
lock="$root/tests/conformance/${gateway}/lock-${version}.txt"
if [[ -f "$venv/.installed" && ! "$lock" -nt "$venv/.installed" ]]; then
  exit 0
fi
python="${PYTHON:-python3}"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --constraint "$lock" "$requirement"
touch "$venv/.installed"
