"""compose.yaml and the exporter's Dockerfile, checked without a Docker engine: docker-compose
accepts the file, every image is pinned, every service has a health check, every generated file
a service mounts is in the committed build/ where the service's config expects it, Prometheus
keeps enough history, and the image runs the exporter as a non-root user with flags it has."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from alerts.prometheus_config import Targets
from collector import config as collector_config
from contract import spec as spec_model
from drills.stack import free_port
from exporter.__main__ import build_parser
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.binaries import require

COMPOSE_FILE = ROOT / "compose.yaml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
BUILD = ROOT / "build"
SPEC = spec_model.load(EXAMPLE_SPEC)
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# A tag that names a release: digits and dots, optionally a v and a suffix (v3.5.0, 12.3.1, 0.140.1).
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([.-][0-9A-Za-z.-]+)?$")


# -- docker-compose itself -------------------------------------------------------------------


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    # The variables compose.yaml interpolates are left unset, as on a CI machine.
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWATCH_INGEST_TOKEN", "MIMIR_TOKEN")}
    return subprocess.run([require("docker-compose"), "-f", str(COMPOSE_FILE), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.binaries
@pytest.mark.parametrize("profile", [(), ("--profile", "simulator")], ids=["default", "simulator-profile"])
def test_docker_compose_accepts_the_file(profile: tuple[str, ...]) -> None:
    result = compose(*profile, "config")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(SERVICES)


def test_the_simulator_starts_only_with_its_profile() -> None:
    # `config --services` lists profiled services too (docker-compose 1.29), so read the file.
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    assert [name for name, service in SERVICES.items() if "profiles" in service] == ["simulator"]


# -- images and health -------------------------------------------------------------------------


def image_tag(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    return name, tag


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned_to_a_release(name: str) -> None:
    image = SERVICES[name]["image"]
    _, tag = image_tag(image)
    assert "@sha256:" in image or PINNED_TAG.match(tag), f"{name}: {image} is not pinned to a version"
    assert tag != "latest"


def test_the_images_are_the_ones_the_generated_files_are_written_for() -> None:
    images = {name: image_tag(service["image"]) for name, service in SERVICES.items()}
    # The 2.x line: the suite checks the generated config and rules with Prometheus 2.42.
    assert images["prometheus"][0] == "prom/prometheus" and images["prometheus"][1].startswith("v2.")
    assert images["alertmanager"][0] == "prom/alertmanager"
    # Grafana 12: the Foundation SDK release the dashboards are built with emits its schema.
    assert images["grafana"][0] == "grafana/grafana" and images["grafana"][1].startswith("12.")
    assert images["collector"][0] == "otel/opentelemetry-collector-contrib"
    # The exporter image is built here and tagged with the package's version; the simulator reuses it.
    assert SERVICES["exporter"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert images["exporter"] == images["simulator"] == ("gatewatch/exporter", VERSION)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check is not None, f"{name} has no healthcheck"
    assert not check.get("disable", False)
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, test


@dataclass(frozen=True)
class Probe:
    service: str
    url: str


PROBES = (
    Probe("exporter", "http://127.0.0.1:9464/healthz"),
    Probe("prometheus", "http://127.0.0.1:9090/-/healthy"),
    Probe("alertmanager", "http://127.0.0.1:9093/-/healthy"),
    Probe("grafana", "http://127.0.0.1:3000/api/health"),
    Probe("simulator", "http://exporter:9464/readyz"),
)


@pytest.mark.parametrize("probe", PROBES, ids=[p.service for p in PROBES])
def test_each_health_check_probes_the_services_health_endpoint(probe: Probe) -> None:
    assert probe.url in " ".join(SERVICES[probe.service]["healthcheck"]["test"])


def test_the_collector_health_check_validates_the_config_it_runs() -> None:
    service = SERVICES["collector"]
    # The image is FROM scratch: the only program in it is the Collector itself.
    check = service["healthcheck"]["test"]
    assert check[:3] == ["CMD", "/otelcol-contrib", "validate"]
    assert check[3] in service["command"]


# -- mounts: what each service loads is what generate.py writes ---------------------------------


@dataclass(frozen=True)
class Mount:
    service: str
    source: str
    target: str
    read_only: bool


def bind_mounts() -> Iterator[Mount]:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            parts = volume.split(":")
            if parts[0].startswith("./"):
                yield Mount(name, parts[0], parts[1], parts[2:] == ["ro"])


BUILD_MOUNTS = [m for m in bind_mounts() if m.source.startswith("./build/")]


def mount_for(service: str, target: str) -> Mount:
    """The bind mount that provides ``target`` in ``service``'s container (a file or a parent)."""
    for mount in bind_mounts():
        if mount.service == service and PurePosixPath(target).is_relative_to(mount.target):
            return mount
    raise AssertionError(f"{service}: nothing mounts {target}")


def host_path(service: str, target: str) -> Path:
    mount = mount_for(service, target)
    return ROOT / mount.source / PurePosixPath(target).relative_to(mount.target)


@pytest.mark.parametrize("mount", BUILD_MOUNTS, ids=[f"{m.service}:{m.target}" for m in BUILD_MOUNTS])
def test_every_mounted_generated_path_is_in_the_committed_build(mount: Mount) -> None:
    assert (ROOT / mount.source).exists(), f"{mount.service} mounts {mount.source}, which build/ does not hold"
    # Generated files are regenerated, never edited in a running container.
    assert mount.read_only, f"{mount.service} mounts {mount.source} writable"


def test_the_exporter_image_is_not_given_the_whole_build() -> None:
    # Every service mounts only the generated part it loads.
    assert all(m.source != "./build" for m in bind_mounts())


def test_prometheus_loads_the_generated_config_and_every_rule_file_it_names() -> None:
    service = SERVICES["prometheus"]
    config_file = flag(service["command"], "--config.file")
    assert host_path("prometheus", config_file) == BUILD / "prometheus" / "prometheus.yml"
    prometheus_yml = yaml.safe_load((BUILD / "prometheus" / "prometheus.yml").read_text())
    config_dir = PurePosixPath(config_file).parent
    for rule_file in prometheus_yml["rule_files"]:
        # Relative rule paths resolve against the config file's directory.
        assert host_path("prometheus", str(config_dir / rule_file)).is_file(), rule_file


def test_prometheus_keeps_at_least_ninety_days() -> None:
    retention = flag(SERVICES["prometheus"]["command"], "--storage.tsdb.retention.time")
    assert duration_days(retention) >= 90, retention
    data = flag(SERVICES["prometheus"]["command"], "--storage.tsdb.path")
    assert named_volume("prometheus", data) in COMPOSE["volumes"]


@pytest.mark.parametrize(("text", "days"), [("100d", 100), ("15d", 15), ("13w", 91), ("1y", 365), ("2160h", 90),
                                            ("12w2d", 86)])
def test_duration_days_reads_prometheus_durations(text: str, days: float) -> None:
    assert duration_days(text) == days


def test_alertmanager_finds_its_templates_and_every_secret_file_under_secrets() -> None:
    service = SERVICES["alertmanager"]
    config_file = flag(service["command"], "--config.file")
    assert host_path("alertmanager", config_file) == BUILD / "alertmanager" / "alertmanager.yml"
    alertmanager_yml = (BUILD / "alertmanager" / "alertmanager.yml").read_text()
    for template in yaml.safe_load(alertmanager_yml)["templates"]:
        matches = list(host_path("alertmanager", str(PurePosixPath(config_file).parent / template)).parent
                       .glob(PurePosixPath(template).name))
        assert matches, template
    secret_files = re.findall(r"_file: (\S+)", alertmanager_yml)
    assert secret_files, "the example spec's receivers read secrets from files"
    for path in secret_files:
        mount = mount_for("alertmanager", path)
        assert mount.source.startswith("./secrets/") and mount.read_only, path


def test_grafana_loads_provisioning_and_the_dashboards_where_the_provider_looks() -> None:
    assert mount_for("grafana", "/etc/grafana/provisioning").source == "./build/grafana/provisioning"
    dashboards = mount_for("grafana", "/var/lib/grafana/dashboards/gatewatch")
    assert dashboards.target == "/var/lib/grafana/dashboards/gatewatch"
    provider_file = BUILD / "grafana" / "provisioning" / "dashboards" / "gatewatch.yml"
    paths = [p["options"]["path"] for p in yaml.safe_load(provider_file.read_text())["providers"]]
    assert paths == [dashboards.target]


def test_grafanas_admin_password_is_a_secret_file() -> None:
    service = SERVICES["grafana"]
    assert service["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert service["secrets"] == ["grafana_admin_password"]
    assert COMPOSE["secrets"]["grafana_admin_password"]["file"].startswith("./secrets/")


def test_the_collector_runs_the_generated_config_and_publishes_the_receiver() -> None:
    service = SERVICES["collector"]
    config_file = flag(service["command"], "--config")
    assert host_path("collector", config_file) == BUILD / collector_config.PATH
    assert f"{collector_config.OTLP_HTTP_PORT}:{collector_config.OTLP_HTTP_PORT}" in service["ports"]
    # The spec's token variable reaches the Collector, which expands it into the auth header.
    assert SPEC.collector.token_env in service["environment"]


# -- the exporter service ---------------------------------------------------------------------


def test_prometheus_scrape_targets_are_compose_service_names() -> None:
    targets = Targets()
    for target in (*targets.exporters, targets.alertmanager):
        name, port = target.split(":")
        assert name in SERVICES, target
        assert port in published_ports(name), target
    assert targets.prometheus == "localhost:9090" and "9090" in published_ports("prometheus")


def test_the_exporter_reads_the_mounted_spec_and_keeps_state_in_a_named_volume() -> None:
    cmd = dockerfile_cmd()
    args = build_parser().parse_args(cmd[3:])
    assert mount_for("exporter", str(args.spec)).source == "./ops.yaml"
    assert named_volume("exporter", str(args.state_dir)) in COMPOSE["volumes"]
    assert SPEC.ingest.token_env in SERVICES["exporter"]["environment"]


def test_secrets_enter_only_as_files_or_from_the_hosts_environment() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"TOKEN|PASSWORD|SECRET|KEY", key) and not key.endswith("__FILE"):
                # Interpolated from the shell or an uncommitted .env, never written here.
                assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:-)?\}", str(value)), f"{name}: {key}={value!r}"


def test_volumes_are_named_and_declared() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("./", "/")):
                assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"
    assert set(COMPOSE["volumes"]) == {"exporter-state", "prometheus-data", "alertmanager-data", "grafana-data"}


# -- the Dockerfile -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip() if pending else stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, args = pending.partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip()))
            pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def base_images() -> list[str]:
    args: dict[str, str] = {}
    images = []
    for instruction in dockerfile():
        if instruction.keyword == "ARG" and "=" in instruction.args:
            key, _, value = instruction.args.partition("=")
            args[key] = value
        elif instruction.keyword == "FROM":
            image = instruction.args.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return images


def exec_form(keyword: str) -> list[str]:
    found = [i for i in dockerfile() if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}"
    args = found[0].args
    if keyword == "HEALTHCHECK":  # options, then CMD and the command
        args = args[args.index(" CMD ") + 5:].strip()
    value = json.loads(args)  # exec form: no shell to swallow SIGTERM
    assert isinstance(value, list)
    return value


def dockerfile_cmd() -> list[str]:
    return exec_form("CMD")


def test_the_base_image_is_python_3_11_slim_pinned_to_a_patch_release() -> None:
    images = base_images()
    assert images, "no FROM"
    for image in images:
        name, tag = image_tag(image)
        assert name == "python"
        assert re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag), image


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [i.args for i in dockerfile() if i.keyword == "USER"]
    assert users, "no USER: the exporter would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after the last RUN that installs: nothing runs as root at run time.
    keywords = [i.keyword for i in dockerfile()]
    assert len(keywords) - keywords[::-1].index("USER") > len(keywords) - keywords[::-1].index("RUN")


def test_the_package_is_installed_not_editable_and_only_the_environment_reaches_the_image() -> None:
    runs = " ".join(i.args for i in dockerfile() if i.keyword == "RUN")
    assert re.search(r"pip install [^&]*\.$|pip install [^&]* \. ", runs), runs
    assert " -e " not in runs and "--editable" not in runs
    # The final stage takes the installed environment from the build stage, not the source tree.
    keywords = [(i.keyword, i.args) for i in dockerfile()]
    last_from = max(n for n, (keyword, _) in enumerate(keywords) if keyword == "FROM")
    final_copies = [args for keyword, args in keywords[last_from:] if keyword == "COPY"]
    assert "--from=build /opt/gatewatch /opt/gatewatch" in final_copies
    assert ". ." not in final_copies


def test_the_command_is_the_exporter_with_flags_it_has() -> None:
    cmd = dockerfile_cmd()
    assert cmd[:3] == ["python", "-m", "exporter"]
    assert cmd[3:] == ["--spec", "/etc/gatewatch/ops.yaml", "--listen", "0.0.0.0:9464", "--state-dir",
                       "/var/lib/gatewatch"]
    help_text = subprocess.run([sys.executable, "-m", "exporter", "--help"], cwd=ROOT, capture_output=True,
                               text=True, timeout=60, check=True).stdout
    for flag_name in cmd[3::2]:
        assert re.search(rf"^\s+{re.escape(flag_name)}\b", help_text, re.MULTILINE), flag_name
    args = build_parser().parse_args(cmd[3:])
    assert (args.listen.host, args.listen.port) == ("0.0.0.0", 9464)
    exposed = [i.args for i in dockerfile() if i.keyword == "EXPOSE"]
    assert exposed == ["9464"]
    assert [i.args for i in dockerfile() if i.keyword == "VOLUME"] == ['["/var/lib/gatewatch"]']


def healthcheck_probe(port: int) -> Callable[[], int]:
    """The image's HEALTHCHECK command, aimed at ``port``; returns its exit code."""
    command = exec_form("HEALTHCHECK")
    assert command[:2] == ["python", "-c"]
    code = command[2]
    assert "http://127.0.0.1:9464/healthz" in code
    aimed = code.replace("127.0.0.1:9464", f"127.0.0.1:{port}")
    return lambda: subprocess.run([sys.executable, "-c", aimed], capture_output=True, timeout=30,
                                  check=False).returncode


def test_the_image_health_check_passes_on_a_live_exporter_and_fails_without_one(
    exporter_factory: Callable[..., Any],
) -> None:
    exporter = exporter_factory("--listen", "127.0.0.1:0")
    assert healthcheck_probe(exporter.port)() == 0
    exporter.stop()
    assert healthcheck_probe(exporter.port)() != 0
    assert healthcheck_probe(free_port())() != 0


# -- the build context ------------------------------------------------------------------------


def dockerignore() -> list[str]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line.rstrip("/") for line in lines if line and not line.startswith("#")]
    # The matcher below covers plain patterns and **/ prefixes; exceptions (!) would need more.
    assert not any(p.startswith("!") for p in patterns)
    return patterns


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for end in range(1, len(parts) + 1):
        prefix = "/".join(parts[:end])
        for pattern in patterns:
            if pattern.startswith("**/"):
                if fnmatch.fnmatchcase(parts[end - 1], pattern.removeprefix("**/")):
                    return True
            elif fnmatch.fnmatchcase(prefix, pattern):
                return True
    return False


def test_the_build_context_holds_what_the_package_build_needs_and_no_secrets() -> None:
    patterns = dockerignore()
    assert not ignored("README.md", patterns)  # pyproject's readme: the build fails without it
    assert not ignored("pyproject.toml", patterns)
    assert not ignored("ops.yaml", patterns)  # copied into the image as the default spec
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for module in project["tool"]["setuptools"]["py-modules"]:
        assert not ignored(f"{module}.py", patterns), module
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert (ROOT / package / "__init__.py").exists() and not ignored(f"{package}/__init__.py", patterns)
    assert not ignored("simulate/__main__.py", patterns)
    for kept_out in ("secrets/grafana-admin-password", ".env", ".git/config", ".venv/bin/python",
                     "state/counters.json", "exporter/__pycache__/x.pyc", "build/prometheus/prometheus.yml"):
        assert ignored(kept_out, patterns), kept_out


# -- helpers ----------------------------------------------------------------------------------------


def flag(command: list[str], name: str) -> str:
    for item in command:
        key, _, value = item.partition("=")
        if key == name:
            return value
    raise AssertionError(f"{name} is not given in {shlex.join(command)}")


def named_volume(service: str, target: str) -> str:
    for volume in SERVICES[service].get("volumes", []):
        source, container = volume.split(":")[:2]
        if container == target and not source.startswith(("./", "/")):
            return source
    raise AssertionError(f"{service}: no named volume at {target}")


def published_ports(service: str) -> set[str]:
    return {str(p).split(":")[-1] for p in SERVICES[service].get("ports", [])}


_UNIT_DAYS = {"y": 365, "w": 7, "d": 1, "h": 1 / 24, "m": 1 / 1440, "s": 1 / 86400}


def duration_days(text: str) -> float:
    """A Prometheus duration (``100d``, ``13w``, ``12w2d``) in days."""
    units = re.findall(r"(\d+)(ms|[ywdhms])", text)
    assert units and "".join(n + u for n, u in units) == text, f"not a Prometheus duration: {text}"
    return sum(int(n) * (_UNIT_DAYS[u] if u != "ms" else 0) for n, u in units)
