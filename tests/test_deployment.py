"""The deployment files, read as a reviewer would (no Docker engine here): compose.yaml, the k8s base and the
settings' documentation agree with the app and with each other."""

import os
import re
import subprocess
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from entrypoints.settings import Settings
from tests.e2e.test_cli import start_serve

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
K8S = [doc for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
ENV_EXAMPLE = (ROOT / "deploy/.env.example").read_text()
SECRETS = (
    "MAILROOM_JWT_SECRET",
    "MAILROOM_ENCRYPTION_KEYS",
    "MAILROOM_DATABASE_URL",
    "MAILROOM_MIGRATION_DATABASE_URL",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_PASSWORD",
)
# Credentials of the tables' owner (a superuser in compose), which row-level security does not hold.
OWNER_CREDENTIALS = ("POSTGRES_PASSWORD", "MAILROOM_MIGRATION_DATABASE_URL")


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no":  # one-shot (migrate): the others wait for it to complete instead
            assert service["healthcheck"] == {"disable": True}, name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_dependencies_wait_for_health_or_completion_and_form_no_cycle() -> None:
    graph = {name: set(service.get("depends_on", {})) for name, service in SERVICES.items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:  # pragma: no cover - the assertion below reports it
        pytest.fail(f"depends_on has a cycle: {cycle.args[1]}")
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if SERVICES[dependency].get("restart") == "no" else "service_healthy"
            )
            assert rule == {"condition": expected}, (name, dependency)
    app_services = {"api", "worker", "scheduler"}
    assert all(SERVICES[s]["depends_on"]["migrate"] for s in app_services)


def test_exactly_one_scheduler() -> None:
    assert SERVICES["scheduler"]["deploy"]["replicas"] == 1
    [scheduler] = [d for d in K8S if d["kind"] == "Deployment" and d["metadata"]["name"] == "mailroom-scheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}


def test_every_setting_the_app_reads_is_documented() -> None:
    documented = set(re.findall(r"^(MAILROOM_[A-Z0-9_]+)=", ENV_EXAMPLE, re.MULTILINE))
    read = {f"MAILROOM_{name.upper()}" for name in Settings.__struct_fields__} - {"MAILROOM_OAUTH"}
    assert read - documented == set()
    for provider_setting in ("CLIENT_ID", "CLIENT_SECRET", "AUTHORIZE_URL", "TOKEN_URL", "SCOPES", "USERINFO_URL"):
        assert f"MAILROOM_OAUTH_GOOGLE_{provider_setting}=" in ENV_EXAMPLE or (
            f"MAILROOM_OAUTH_LOCAL_{provider_setting}=" in ENV_EXAMPLE
        ), f"the per-provider MAILROOM_OAUTH_<NAME>_{provider_setting} (read as `oauth`) is documented"
    assert documented - read == set(), "documented settings the app does not read"


def test_no_secret_has_a_real_default() -> None:
    for name in SECRETS:
        assert re.search(rf"^{name}=$", ENV_EXAMPLE, re.MULTILINE), f"{name} must be empty in .env.example"
    compose_text = (ROOT / "compose.yaml").read_text()
    for password in ("POSTGRES_PASSWORD", "POSTGRES_APP_PASSWORD"):
        assert "${" + password + ":?" in compose_text
        assert not re.search(rf"{password}:-", compose_text)
    for secret in (d for d in K8S if d["kind"] == "Secret"):
        assert set(secret["stringData"].values()) == {""}


def _url_user(url: str) -> str:
    """The user of a compose URL, whose password is still a `${...}` with spaces and slashes in it."""
    found = re.match(r"postgresql://([^:@/]+)[:@]", url)
    assert found, url
    return found.group(1)


def test_in_compose_only_migrate_connects_as_the_tables_owner() -> None:
    """Row-level security does not hold the superuser POSTGRES_USER, who owns the tables: the services connect as
    another role, and the owner's password, which deploy/.env (the env_file of every Mailroom container) carries,
    is blanked in every container but migrate's."""
    owner = SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    migrate = SERVICES["migrate"]["environment"]
    assert _url_user(migrate["MAILROOM_MIGRATION_DATABASE_URL"]) == owner
    assert "${POSTGRES_PASSWORD:?" in migrate["MAILROOM_MIGRATION_DATABASE_URL"]
    service_role = _url_user(migrate["MAILROOM_DATABASE_URL"])
    assert service_role != owner
    for name in ("api", "worker", "scheduler"):
        assert _url_user(SERVICES[name]["environment"]["MAILROOM_DATABASE_URL"]) == service_role, name
    for name, service in SERVICES.items():
        if name in ("postgres", "migrate"):
            continue
        environment = service.get("environment", {})
        assert not any(re.search(r"\$\{POSTGRES_PASSWORD\b", str(v)) for v in environment.values()), name
        if "deploy/.env" in service.get("env_file", []):
            assert {variable: environment.get(variable) for variable in OWNER_CREDENTIALS} == dict.fromkeys(
                OWNER_CREDENTIALS, ""
            ), name


def _secret_keys_read(container: dict[str, Any], secrets: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(secret, key) pairs a container's environment holds."""
    read: set[tuple[str, str]] = set()
    for source in container.get("envFrom", []):
        if ref := source.get("secretRef"):
            read |= {(ref["name"], key) for key in secrets[ref["name"]]}
    for variable in container.get("env", []):
        if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
            read.add((ref["name"], ref["key"]))
    return read


def test_in_k8s_only_the_migration_job_reads_the_owner_url() -> None:
    secrets = {d["metadata"]["name"]: set(d["stringData"]) for d in K8S if d["kind"] == "Secret"}
    owner_url = {
        (name, key) for name, keys in secrets.items() for key in keys if key == "MAILROOM_MIGRATION_DATABASE_URL"
    }
    assert owner_url
    workloads = [d for d in K8S if d["kind"] in ("Deployment", "Job")]
    assert {d["metadata"]["name"] for d in workloads} >= {"mailroom-api", "mailroom-worker", "mailroom-scheduler"}
    for workload in workloads:
        for container in _containers(workload):
            read = _secret_keys_read(container, secrets)
            overridden = {v["name"] for v in container.get("env", [])}
            assert "MAILROOM_DATABASE_URL" not in overridden, workload["metadata"]["name"]
            assert ("mailroom", "MAILROOM_DATABASE_URL") in read
            assert bool(read & owner_url) is (workload["kind"] == "Job"), workload["metadata"]["name"]


def _dockerfile_bases(path: Path) -> list[str]:
    """The images a Dockerfile's FROM lines name, with `${ARG}` read as the ARG's default (the official image)."""
    text = path.read_text()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.MULTILINE))
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    return [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], image) for image in froms]


def test_images_are_pinned_to_a_major_version() -> None:
    """By default: compose.yaml's `${NAME_IMAGE:-default}` and the Dockerfiles' ARGs name the official images."""
    images = [re.sub(r"\$\{\w+:-(\S+?)\}", r"\1", s["image"]) for s in SERVICES.values() if "image" in s]
    images += [c["image"] for d in K8S if d["kind"] in ("Deployment", "Job") for c in _containers(d)]
    images += _dockerfile_bases(ROOT / "deploy/Dockerfile")
    images += _dockerfile_bases(ROOT / "deploy/mailservers/Dockerfile")
    assert "python:3.11-slim-bookworm" in images
    assert "postgres:16" in images
    for image in images:
        if image == "mailroom":  # the k8s base's own image, given its tag by kustomization.yaml
            continue
        assert re.search(r":v?\d+", image.split(" ")[0]), f"{image} is not pinned"
        assert not image.endswith(":latest"), image


def test_the_api_is_probed_on_health_and_the_image_runs_unprivileged() -> None:
    [api] = [d for d in K8S if d["kind"] == "Deployment" and d["metadata"]["name"] == "mailroom-api"]
    [container] = _containers(api)
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "USER 1000" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert 'ENTRYPOINT ["mailroom"]' in dockerfile
    for deployment in (d for d in K8S if d["kind"] in ("Deployment", "Job")):
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = resource["spec"]["template"]["spec"]["containers"]
    return containers


def test_the_image_virtualenv_serves_the_api_without_what_it_leaves_out(tmp_path: Path) -> None:
    """There is no Docker engine here to build the image, so this builds its virtualenv the way deploy/Dockerfile
    does (deploy/runtime-venv.sh, bytecode compiled) and runs the API from it alone."""
    venv = tmp_path / "venv"
    outside = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("MAILROOM_")}
    build = {"UV_PROJECT_ENVIRONMENT": str(venv), "UV_COMPILE_BYTECODE": "1", "UV_LINK_MODE": "copy"}
    built = subprocess.run(
        ["sh", "deploy/runtime-venv.sh"], cwd=ROOT, env=outside | build, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert "deploy/runtime-venv.sh" in (ROOT / "deploy/Dockerfile").read_text()

    size = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())
    print(f"runtime virtualenv: {size / 1e6:.0f} MB")
    # obstore, the S3 client the blob store needs on more than one machine, is 13 MB of it.
    assert size < 110e6, "on python:3.11-slim (125 to 150 MB) the image must stay near 250 MB (issue 7)"

    python = str(venv / "bin" / "python")
    for module in ("faker", "rich", "pygments", "markdown_it", "pytest", "websockets"):
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=60, env=outside)
        assert found.returncode != 0, f"{module} is in the runtime virtualenv"

    process, base = start_serve(outside | {"MAILROOM_DATA_DIR": str(tmp_path / "data")}, str(venv / "bin" / "mailroom"))
    try:
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        assert httpx.get(f"{base}/schema/openapi.json", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=20)
