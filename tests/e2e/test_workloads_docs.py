"""docs/workloads.md says what the code does: its settings, costs, IAM actions, examples."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from chalicelib.adapters import ecs_services, lambda_functions
from chalicelib.adapters.workloads import read_calls
from chalicelib.core import documents
from chalicelib.core.alert_formats import render_slack
from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import FRESH_FOR, ImageUse, workloads_of
from chalicelib.local.scenario import DEV, PROD, digest
from chalicelib.settings import Settings
from chalicelib.usecases.pins import MAX_REFRESHES
from tests.e2e.demo_process import ROOT
from tests.infra.test_forwarder_template import WORKLOAD_READ_CALLS
from tests.workload_helpers import totals

PAGE = (ROOT / "docs" / "workloads.md").read_text()


def example(name: str) -> str:
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", PAGE, re.S)
    assert found, f"docs/workloads.md has no example {name!r}"
    return found.group(1)


@pytest.mark.parametrize("value", ["ecs,lambda", "ecs", "lambda", "none"])
def test_every_workload_types_value_shown_is_accepted(value: str) -> None:
    assert f"| `{value}`" in PAGE
    env = {"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111111111111:t"}
    types = Settings.from_env({**env, "AUDIT_ROLE_NAME": "r", "WORKLOAD_TYPES": value})
    assert types.workload_types == (frozenset() if value == "none" else set(value.split(",")))


def test_the_bounds_and_page_sizes_are_the_codes() -> None:
    assert f"older than {FRESH_FOR.seconds // 60} minutes, at most {MAX_REFRESHES} locations" in (
        " ".join(PAGE.split())
    )
    assert f"`DescribeServices` ({ecs_services.SERVICES_PER_DESCRIBE} a call)" in PAGE
    assert f"`DescribeServiceRevisions` ({ecs_services.REVISIONS_PER_DESCRIBE} a call)" in PAGE
    assert f"`ListServices` ({ecs_services.PAGE} a page)" in PAGE
    assert f"`ListFunctions` ({lambda_functions.PAGE} a page)" in PAGE


def test_the_cost_example_is_the_cost_model_s() -> None:
    first = read_calls([40] * 5, 120, 80, first=True)
    later = read_calls([40] * 5, 120, 80, first=False)
    text = " ".join(PAGE.split())
    assert f"costs {sum(first.values())} calls the first time and {sum(later.values())} every" in (
        text
    )
    assert f"(about {round(sum(later.values()) * 96, -2):,.0f} a day)" in text


def test_the_measured_calls_are_the_end_to_end_tests() -> None:
    header, *_ = re.findall(r"^\| read \|.*$", PAGE, re.M)
    names = [n.strip(" `") for n in header.split("|")[2:-1]]
    for row, first in (("first", True), ("15 minutes later", False)):
        (line,) = re.findall(rf"^\| {row} \|.*$", PAGE, re.M)
        shown = dict(zip(names, (int(n) for n in line.split("|")[2:-1]), strict=True))
        expected = totals(read_calls([2, 2], 3, 2, first), read_calls([], 0, 0, first), True)
        assert {k: v for k, v in shown.items() if v} == expected


def test_the_iam_actions_shown_are_the_audit_role_s() -> None:
    section = PAGE.split("## The audit role", 1)[1].split("\n## ", 1)[0]
    shown = set(re.findall(r"`((?:ecs|lambda):\w+)`", section))
    assert shown == set(WORKLOAD_READ_CALLS.values())


def test_the_pinned_digest_missing_example_is_the_code_s() -> None:
    shown = json.loads(example("pinned-digest-missing"))
    assert tuple(shown) == documents.ALERT_KEYS
    prod, dev = Location(*PROD), Location(*DEV)
    pinned = digest("vault-1")
    (entry,) = shown["workloads"]
    (function,) = workloads_of(
        prod, "lambda-function", entry["name"], [ImageUse(entry["image"], pinned)]
    )
    since = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    rebuilt = documents.pinned_alert(
        prod, "secure/vault", pinned, since, dev, [function.alert_entry()], since
    )
    assert rebuilt == shown


def test_the_slack_example_is_what_slack_gets() -> None:
    prod = Location(*PROD)
    runs, takes = digest("api-prod-hotfix"), digest("api-1.4.1")
    image = f"{PROD[0]}.dkr.ecr.{PROD[1]}.amazonaws.com/team/api:latest"
    (service,) = workloads_of(prod, "ecs-service", "prod/api", [ImageUse(image, runs)])
    alert = documents.alert_document(
        kind="TAG_OVERWRITTEN", incident_id="x", repository="team/api", tag="latest",
        digest=takes, previous_digest=runs, cause="replication_overwrote_local_tag",
        source=Location(*DEV).as_dict(), destination=prod.as_dict(),
        workloads=[service.alert_entry()],
    )  # fmt: skip
    texts = [b["text"]["text"] for b in render_slack(alert)["blocks"] if b["type"] == "section"]
    assert example("tag-overwritten-slack").strip() in texts


def test_the_get_workloads_example_has_the_api_s_keys() -> None:
    shown = json.loads(example("get-workloads"))
    (entry,) = shown["workloads"]
    (found,) = workloads_of(
        Location(*PROD), "ecs-service", entry["name"], [ImageUse(entry["image"], entry["digest"])]
    )
    assert shown == {"repository": found.repository, "workloads": [found.api_entry()]}
