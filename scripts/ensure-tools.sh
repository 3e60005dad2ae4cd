#!/usr/bin/env bash
# Installs the real components the tests start (Prometheus, promtool, Alertmanager, amtool;
# VictoriaMetrics with vmagent and vmalert), docker-compose (which validates compose.yaml without
# a Docker engine) and Chromium (which opens the built developer portal headless), when missing.
set -euo pipefail

packages=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || packages+=(prometheus)
{ command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null; } \
  && command -v amtool >/dev/null || packages+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || packages+=(docker-compose)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || packages+=(chromium)
command -v victoria-metrics >/dev/null && command -v vmagent >/dev/null && command -v vmalert >/dev/null \
  || packages+=(victoria-metrics)

[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${packages[*]} from Debian's packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  exit 0
fi

cat >&2 <<MSG
gatewatch needs these tools, which are missing: ${packages[*]}
  Debian/Ubuntu (as root):  apt-get install prometheus prometheus-alertmanager docker-compose chromium victoria-metrics
  macOS (Homebrew):         brew install prometheus alertmanager docker-compose victoriametrics; brew install --cask chromium
  Anywhere else:            put prometheus, promtool, alertmanager and amtool from
                            https://prometheus.io/download/ on PATH, victoria-metrics, vmagent and
                            vmalert from https://github.com/VictoriaMetrics/VictoriaMetrics/releases,
                            docker-compose v1 or v2, and chromium (or chromium-browser).
MSG
exit 1
