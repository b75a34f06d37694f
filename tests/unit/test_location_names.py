"""LOCATION_NAMES: parsed and validated by the settings, shown by the chat renderings."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.alert_formats import render_chatbot, render_slack
from chalicelib.core.alert_text import place
from chalicelib.core.errors import ConfigError
from chalicelib.settings import Settings, parse_location_names
from tests.unit.test_alert_formats import missing

NAMES = {"111111111111/us-west-2": "dev", "222222222222/eu-west-1": "prod"}
BASE = {"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t"}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(NAMES),
        "111111111111/us-west-2=dev,222222222222/eu-west-1=prod",
        " 111111111111/us-west-2 = dev , 222222222222/eu-west-1=prod ",
    ],
)
def test_both_spellings_give_the_same_names(text: str) -> None:
    assert parse_location_names(text) == NAMES
    assert Settings.from_env({**BASE, "LOCATION_NAMES": text}).location_names == NAMES


def test_unset_means_no_names() -> None:
    assert Settings.from_env(BASE).location_names == {}
    assert parse_location_names("  ") == {}


@pytest.mark.parametrize(
    "text,problem",
    [
        ("prod", "must look like 222222222222/eu-west-1=prod"),
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"prod": "222222222222/eu-west-1"}', "key 'prod' must be account/region"),
        ("2222/eu-west-1=prod", "must be account/region"),
        ("222222222222/eu-west-1=", "1-32 printable characters"),
        ('{"222222222222/eu-west-1": 7}', "1-32 printable characters"),
        ("222222222222/eu-west-1=" + "x" * 33, "1-32 printable characters"),
        ("111111111111/us-west-2=a,222222222222/eu-west-1=a", "gives the name 'a' to two"),
    ],
)
def test_bad_names_are_a_config_error_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="LOCATION_NAMES") as raised:
        Settings.from_env({**BASE, "LOCATION_NAMES": text})
    assert problem in str(raised.value)


def test_place_names_a_location_only_when_known() -> None:
    assert place({"account": "222222222222", "region": "eu-west-1"}, NAMES) == (
        "prod 222222222222/eu-west-1"
    )
    assert place({"account": "333333333333", "region": "us-east-1"}, NAMES) == (
        "333333333333/us-east-1"
    )
    assert place(None, NAMES) == "unknown"


def test_slack_and_chatbot_name_source_and_destination() -> None:
    alert = missing()
    destination = f"{alert['destination']['account']}/{alert['destination']['region']}"
    names = {**NAMES, destination: "far"}
    dest_name = "far"
    slack = json.dumps(render_slack(alert, names), ensure_ascii=False)
    assert f"`dev 111111111111/us-west-2` → `{dest_name} {destination}`" in slack
    chatbot = render_chatbot(alert, names)
    assert f"`{dest_name} {destination}`" in chatbot["content"]["description"]
    context = chatbot["metadata"]["additionalContext"]
    assert context["source_name"] == "dev" and context["destination_name"] == dest_name
    assert context["destination"] == destination, "the ids stay as they were"
    assert dest_name in chatbot["content"]["keywords"]
    # without names, nothing changes
    assert "source_name" not in render_chatbot(alert)["metadata"]["additionalContext"]
    assert "`111111111111/us-west-2` →" in json.dumps(render_slack(alert), ensure_ascii=False)
