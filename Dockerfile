# The gatewatch exporter image: `docker build -t gatewatch/exporter:0.1.0 .` (compose.yaml does it).
# The package is installed (not editable) into a virtual environment in a throw-away stage, and
# only that environment is copied on, so the image holds neither the source tree nor pip's cache.
# No BuildKit-only syntax: docker-compose v1's builder must manage it too.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY . .
# Every dependency ships wheels for this Python: nothing is compiled.
RUN python -m venv /opt/gatewatch \
 && /opt/gatewatch/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/gatewatch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed numeric uid, so orchestrators that check runAsNonRoot can see it is not root.
RUN groupadd --system --gid 10001 gatewatch \
 && useradd --system --uid 10001 --gid gatewatch --home-dir /var/lib/gatewatch --no-create-home \
        --shell /usr/sbin/nologin gatewatch \
 && install -d -o gatewatch -g gatewatch -m 0750 /var/lib/gatewatch
# Same base image, same interpreter path: the environment works where it lands.
COPY --from=build /opt/gatewatch /opt/gatewatch
# The example spec, so the image starts on its own; mount your own over it.
COPY ops.yaml /etc/gatewatch/ops.yaml

USER 10001:10001
WORKDIR /var/lib/gatewatch
# Counters, tail offsets and the duplicate window: mount a volume so restarts continue counting.
VOLUME ["/var/lib/gatewatch"]
EXPOSE 9464
# urllib, not curl: the slim image has no curl, and urlopen raises (exit 1) on anything but 2xx.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=3)"]
CMD ["python", "-m", "exporter", "--spec", "/etc/gatewatch/ops.yaml", "--listen", "0.0.0.0:9464", \
     "--state-dir", "/var/lib/gatewatch"]
