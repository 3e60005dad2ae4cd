#!/usr/bin/env bash
# Installs the real components the tests start (Prometheus, promtool, Alertmanager, amtool;
# VictoriaMetrics with vmagent and vmalert) and docker-compose (which validates compose.yaml
# without a Docker engine), when missing.
set -euo pipefail

packages=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || packages+=(prometheus)
{ command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null; } \
  && command -v amtool >/dev/null || packages+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || packages+=(docker-compose)
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
  Debian/Ubuntu (as root):  apt-get install prometheus prometheus-alertmanager docker-compose victoria-metrics
  macOS (Homebrew):         brew install prometheus alertmanager docker-compose victoriametrics
  Anywhere else:            put prometheus, promtool, alertmanager and amtool from
                            https://prometheus.io/download/ on PATH, victoria-metrics, vmagent and
                            vmalert from https://github.com/VictoriaMetrics/VictoriaMetrics/releases,
                            and docker-compose v1 or v2.
MSG
exit 1
