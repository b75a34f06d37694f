"""AUDIT_ROLE_NAME and REPLICATION_SOURCES: parsed, validated, errors that name the bad item."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.errors import ConfigError
from chalicelib.core.lifecycle import Location
from chalicelib.settings import Settings
from tests import events as ev

BASE = {"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:a"}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def test_unset_means_events_only() -> None:
    got = settings()
    assert got.audit_role_name is None and got.replication_sources == ()


def test_sources_are_locations_in_order() -> None:
    got = settings(
        AUDIT_ROLE_NAME="ecr-replication-auditor-read",
        REPLICATION_SOURCES=" 111111111111:us-west-2, 444444444444:eu-central-1 ,",
    )
    assert got.audit_role_name == "ecr-replication-auditor-read"
    assert got.replication_sources == (
        Location("111111111111", "us-west-2"),
        Location("444444444444", "eu-central-1"),
    )
    assert {"111111111111", "444444444444"} <= got.monitored_accounts


@pytest.mark.parametrize(
    "value,message",
    [
        ("111111111111", "item '111111111111' is not account:region"),
        ("11111111111:us-west-2", "item '11111111111:us-west-2' is not account:region"),
        ("111111111111:US_WEST", "item '111111111111:US_WEST' is not account:region"),
        ("111111111111:us-west-2,111111111111:us-west-2", "lists 111111111111:us-west-2 twice"),
    ],
)
def test_bad_sources_name_the_item(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"REPLICATION_SOURCES {message}"):
        settings(AUDIT_ROLE_NAME="r", REPLICATION_SOURCES=value)


def test_sources_need_the_role() -> None:
    with pytest.raises(ConfigError, match="REPLICATION_SOURCES needs AUDIT_ROLE_NAME"):
        settings(REPLICATION_SOURCES="111111111111:us-west-2")


def test_a_source_cannot_be_listed_in_both_places() -> None:
    with pytest.raises(ConfigError, match="also in REPLICATION_CONFIG"):
        settings(
            AUDIT_ROLE_NAME="r",
            REPLICATION_CONFIG=json.dumps(ev.DEFAULT_CONFIG),
            REPLICATION_SOURCES=f"{ev.DEV[0]}:{ev.DEV[1]}",
        )


def test_role_name_is_validated() -> None:
    with pytest.raises(ConfigError, match="AUDIT_ROLE_NAME 'a/b' is not an IAM role name"):
        settings(AUDIT_ROLE_NAME="a/b")


def test_registry_only_commands_need_no_ledger() -> None:
    got = Settings.from_env({"AUDIT_ROLE_NAME": "r"}, ledger=False)
    assert got.audit_role_name == "r" and got.audit_table == ""
    with pytest.raises(ConfigError, match="AUDIT_TABLE is required"):
        Settings.from_env({"AUDIT_ROLE_NAME": "r"})
