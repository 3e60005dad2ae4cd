#!/usr/bin/env bash
# Builds (once) the cached venv a conformance suite runs a real gateway from:
#   scripts/conformance-venv.sh litellm 1.110.2   ->  .cache/conformance/litellm-1.110.2/
# The venv is complete only when its .installed marker exists, so an interrupted build is redone.
set -euo pipefail
gateway="$1"
version="$2"
case "$gateway" in
  litellm) requirement="litellm[proxy]==${version}" ;;
  *) echo "unknown gateway: $gateway" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/conformance/${gateway}-${version}"
if [[ -f "$venv/.installed" ]]; then
  exit 0
fi
python="${PYTHON:-python3}"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
touch "$venv/.installed"
