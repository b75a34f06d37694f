"""The CloudWatch dashboard in the merge template: it parses once CloudFormation substitutes
its references, and it shows every metric the code emits and every function."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.infra.templates import Packaged

CODE = Path(__file__).resolve().parents[2] / "chalicelib"
CHANNELS = ("Sns", "Slack")


def emitted_metrics() -> set[str]:
    """Every metric name the code emits: count("X"), add_metric(name="X"), per-channel names."""
    names: set[str] = set()
    for path in CODE.rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'(?<![.\w])count\(\s*"(\w+)"', text))  # not list.count
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        names |= set(re.findall(r'single_metric\(\s*name="(\w+)"', text))
        for suffix in re.findall(r'count\(f"\{channel\.name\.capitalize\(\)\}(\w+)"', text):
            names |= {channel + suffix for channel in CHANNELS}
    return names


def dashboard_body(packaged: Packaged) -> dict[str, Any]:
    (dashboard,) = packaged.resources("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    return dict(json.loads(re.sub(r"\$\{([A-Za-z0-9:.]+)\}", r"<\1>", text)))


def test_the_dashboard_shows_every_metric_the_code_emits(packaged: Packaged) -> None:
    text = json.dumps(dashboard_body(packaged))
    emitted = emitted_metrics()
    assert {"ReplicationLag", "SweepCompleted", "AlertsDelivered"} <= emitted  # the scan works
    assert sorted(name for name in emitted if name not in text) == []


def test_the_dashboard_watches_every_function_the_table_and_the_dead_letters(
    packaged: Packaged,
) -> None:
    text = json.dumps(dashboard_body(packaged))
    for function in ("OnImageAction", "OnReplicationAction", "Sweep", "APIHandler"):
        assert f"<{function}>" in text
        assert function in packaged.cfn["Resources"]
    assert "<AuditTable>" in text and "<DeadLetterQueue.QueueName>" in text
    assert 'MetricName=\\"ReplicationLag\\"' in text  # lag per destination, any destination
