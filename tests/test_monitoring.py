"""deploy/monitoring/: the rules and the Prometheus configuration load in promtool, the alerts fire on the series
they are written for and stay quiet on healthy ones (alerts.test.yml), and every metric the rules and the Grafana
dashboard query is one Mailroom exports, as read from the running API's /metrics and the worker's registry."""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY, generate_latest

import entrypoints.worker.tasks  # noqa: F401 - the worker's metrics, registered as `mailroom worker` does
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.metrics import watch_queue_depth
from entrypoints.settings import load_settings

MONITORING = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
RULES = yaml.safe_load((MONITORING / "alerts.yml").read_text())
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
PROMETHEUS_SERIES = {"up"}
"""Series Prometheus makes itself for every target, not the target's."""
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
}
"""The series a metric family of each type is queried by (the text exposition format's naming)."""


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool is not installed (Debian package `prometheus`)"
        if os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required tool missing - {reason}")
        pytest.skip(reason)
    return subprocess.run([path, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False)


def rules() -> Iterator[dict[str, Any]]:
    for group in RULES["groups"]:
        yield from group["rules"]


def dashboard_queries() -> list[str]:
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


_NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # label values
    r"|\{[^}]*\}"  # label matchers
    r"|\[[^\]]*\]"  # ranges
    r"|\$\w+"  # Grafana variables
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
)
_TOKEN = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads: identifiers that are not functions, keywords or labels."""
    names = set()
    for token in _TOKEN.finditer(_NOT_NAMES.sub(" ", expr)):
        name, call = token.groups()
        if name and not call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def exported(exposition: str) -> set[str]:
    """Every series name the exposition's metric families may be queried by, also for a labelled family that
    has no sample yet (a counter by outcome before the first sync, which the rules must still be able to name)."""
    names = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and line[0] != "#"}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        base = family.removesuffix("_total") if kind == "counter" else family
        names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


@pytest.fixture
async def exported_names(tmp_path: Path) -> set[str]:
    """What the API serves at /metrics after a few requests (the HTTP families appear with the first request),
    with a job queue to read and the backlog read from the store, plus what `mailroom worker` serves on
    MAILROOM_WORKER_METRICS_PORT (the process registry, with the worker's tasks imported)."""
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_IDLE_ENABLED": "false"})
    app = create_app(MemoryProvider(), settings=settings)
    watch_queue_depth(lambda: 3.0)
    try:
        async with AsyncTestClient(app) as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/api/accounts")).status_code == 401
            answer = await client.get("/metrics")
    finally:
        watch_queue_depth(None)
    assert answer.status_code == 200
    worker = generate_latest(REGISTRY).decode()
    return exported(answer.text) | exported(worker)


def test_the_alert_rules_and_the_prometheus_configuration_load() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout


def test_alerts_fire_on_failing_series_and_not_on_healthy_ones() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses the queries once Grafana's interval variable is given a value."""
    queries = [q.replace("$__rate_interval", "5m") for q in dashboard_queries()]
    group = {
        "name": "dashboard",
        "rules": [{"record": f"dashboard:query{i}", "expr": q} for i, q in enumerate(queries)],
    }
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump({"groups": [group]}))
    checked = promtool("check", "rules", str(tmp_path / "dashboard-rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_every_queried_metric_is_one_mailroom_exports(exported_names: set[str]) -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known = exported_names | recorded | PROMETHEUS_SERIES
    in_rules = {name for rule in rules() for name in metric_names(rule["expr"])}
    in_dashboard = {name for query in dashboard_queries() for name in metric_names(query)}
    assert {"mailroom_http_requests_total", "mailroom_job_queue_depth", "mailroom_sync_runs_total"} <= in_rules
    assert {
        "mailroom_webhook_deliveries_total",
        "mailroom_webhook_endpoints_disabled_total",
        "mailroom_webhook_deliveries_due",
        "mailroom_mail_server_rejections_total",
        "mailroom_accounts_sync_failing",
    } <= in_rules, "the issue's webhook, rejection and failing-account alerts"
    assert "mailroom_http_request_duration_seconds_bucket" in in_dashboard
    assert in_rules - known == set(), "alerts.yml queries metrics Mailroom does not export"
    assert in_dashboard - known == set(), "grafana-dashboard.json queries metrics Mailroom does not export"


def test_the_name_reader_sees_series_not_functions_labels_or_ranges() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, path) (rate(a_seconds_bucket{path!="/x",le=~"1e3"}[5m])))'
        " > 2 and on () (sum(increase(b_total[$__rate_interval])) or vector(0)) == 0 unless c:recorded"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c:recorded"}


def test_every_alert_says_how_bad_it_is_and_where_to_look() -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 5
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        assert "for" in alert, alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert len(alert["annotations"]["description"]) > 80, alert["alert"]


def test_the_dashboard_asks_for_its_prometheus_data_source() -> None:
    assert DASHBOARD["schemaVersion"] >= 39
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    for panel in DASHBOARD["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
            assert panel["targets"], panel["title"]
