"""The one reader of the environment: every setting, typed and validated, in one object."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from chalicelib.core.documents import DEFAULT_RUNBOOK_BASE_URL
from chalicelib.core.errors import ConfigError
from chalicelib.core.lifecycle import ACCOUNT_RE, REGION_RE, Location
from chalicelib.core.rules import ReplicationConfig, parse_replication_config

ALERT_FORMATS = ("json", "chatbot")
WORKLOAD_TYPES = ("ecs", "lambda")  # what workload discovery can read
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")  # IAM role names (no path)
# An http(s) URL that a Slack or chat link can carry as it is: no spaces, quotes or <>|.
BASE_URL_RE = re.compile(r"^https?://[^\s<>|\"'`]{1,1000}\Z")


def parse_replication_sources(text: str, listed: ReplicationConfig) -> tuple[Location, ...]:
    """REPLICATION_SOURCES: comma-separated `account:region` source registries."""
    sources: list[Location] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        account, _, region = item.partition(":")
        if not ACCOUNT_RE.match(account) or not REGION_RE.match(region):
            raise ConfigError(
                f"REPLICATION_SOURCES item {item!r} is not account:region "
                "(for example 111111111111:us-west-2)"
            )
        location = Location(account, region)
        if location in sources:
            raise ConfigError(f"REPLICATION_SOURCES lists {item} twice")
        if any(registry.location == location for registry in listed.sources):
            raise ConfigError(
                f"REPLICATION_SOURCES item {item} is also in REPLICATION_CONFIG: list it once "
                "(REPLICATION_SOURCES reads its rules from ECR itself)"
            )
        sources.append(location)
    return tuple(sources)


@dataclass(frozen=True)
class Settings:
    audit_table: str
    alert_topic_arn: str
    replication: ReplicationConfig
    grace: timedelta
    monitored_accounts: frozenset[str]
    slack_webhook_secret_arn: str | None
    alert_format: str
    audit_role_name: str | None = None  # unset: events only, no registry is asked
    replication_sources: tuple[Location, ...] = ()  # registries whose rules ECR itself gives
    # "account/region" -> a friendly name people know the location by ("prod", "dr").
    location_names: dict[str, str] = field(default_factory=dict, hash=False)
    # The KMS HMAC key that signs dashboard links (see chalicelib/core/links.py).
    dashboard_link_key: str | None = None
    allowlist_explicit: bool = False  # MONITORED_ACCOUNTS set: rules read from ECR add none
    # Secrets Manager secret holding the HMAC key of pagination cursors (adapters/cursors.py);
    # unset: a key derived from the table name.
    cursor_key_secret_arn: str | None = None
    # WORKLOAD_TYPES: what runs the images, read through the audit role (empty: discovery off)
    workload_types: frozenset[str] = frozenset()
    # Where runbook_url points: <base>/<kind>, e.g. .../runbooks/replica-missing.
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL

    def accepts_account(self, account: str) -> bool:
        return account in self.monitored_accounts

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, ledger: bool = True) -> Settings:
        """`ledger=False` for commands that only ask the registries (doctor): the table and
        topic may then be unset."""
        env = os.environ if env is None else env
        table = env.get("AUDIT_TABLE", "").strip()
        topic = env.get("ALERT_TOPIC_ARN", "").strip()
        if not table and ledger:
            raise ConfigError("AUDIT_TABLE is required: the DynamoDB table holding the ledger")
        if not topic and ledger:
            raise ConfigError("ALERT_TOPIC_ARN is required: the SNS topic for alerts")
        try:
            raw = json.loads(env.get("REPLICATION_CONFIG", "") or "[]")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"REPLICATION_CONFIG is not valid JSON: {exc}") from exc
        replication = parse_replication_config(raw)
        role_name = env.get("AUDIT_ROLE_NAME", "").strip() or None
        if role_name and not ROLE_NAME_RE.match(role_name):
            raise ConfigError(
                f"AUDIT_ROLE_NAME {role_name!r} is not an IAM role name "
                "(1-64 characters of A-Z a-z 0-9 +=,.@_-, no path)"
            )
        sources = parse_replication_sources(env.get("REPLICATION_SOURCES", ""), replication)
        if sources and not role_name:
            raise ConfigError(
                "REPLICATION_SOURCES needs AUDIT_ROLE_NAME: the rules are read through that role"
            )
        grace_text = env.get("REPLICATION_GRACE_SECONDS", "1800").strip()
        if not grace_text.isdigit() or int(grace_text) <= 0:
            raise ConfigError("REPLICATION_GRACE_SECONDS must be a positive whole number")
        accounts_text = env.get("MONITORED_ACCOUNTS", "").strip()
        if accounts_text:
            accounts = frozenset(a.strip() for a in accounts_text.split(",") if a.strip())
            bad = sorted(a for a in accounts if not ACCOUNT_RE.match(a))
            if bad:
                raise ConfigError(f"MONITORED_ACCOUNTS has invalid account ids: {', '.join(bad)}")
        else:
            accounts = replication.accounts() | {s.account for s in sources}
        workload_types = parse_workload_types(env.get("WORKLOAD_TYPES"), role_name)
        alert_format = env.get("ALERT_FORMAT", "json").strip() or "json"
        if alert_format not in ALERT_FORMATS:
            raise ConfigError(f"ALERT_FORMAT must be one of {', '.join(ALERT_FORMATS)}")
        return cls(
            audit_table=table,
            alert_topic_arn=topic,
            replication=replication,
            grace=timedelta(seconds=int(grace_text)),
            monitored_accounts=accounts,
            slack_webhook_secret_arn=env.get("SLACK_WEBHOOK_SECRET_ARN", "").strip() or None,
            alert_format=alert_format,
            audit_role_name=role_name,
            replication_sources=sources,
            location_names=parse_location_names(env.get("LOCATION_NAMES", "")),
            dashboard_link_key=env.get("DASHBOARD_LINK_KEY_ARN", "").strip() or None,
            allowlist_explicit=bool(accounts_text),
            cursor_key_secret_arn=env.get("CURSOR_KEY_SECRET_ARN", "").strip() or None,
            workload_types=workload_types,
            runbook_base_url=parse_runbook_base_url(env.get("RUNBOOK_BASE_URL", "")),
        )


def parse_runbook_base_url(text: str) -> str:
    """RUNBOOK_BASE_URL: an http(s) URL; unset, the project's published runbooks."""
    text = text.strip()
    if not text:
        return DEFAULT_RUNBOOK_BASE_URL
    if not BASE_URL_RE.match(text):
        raise ConfigError(
            f"RUNBOOK_BASE_URL {text[:80]!r} must be an http:// or https:// URL without spaces, "
            "quotes or <>| (each runbook is <RUNBOOK_BASE_URL>/<kind>, e.g. /replica-missing)"
        )
    return text.rstrip("/")


def parse_workload_types(text: str | None, role_name: str | None) -> frozenset[str]:
    """WORKLOAD_TYPES: `ecs`, `lambda`, both (comma-separated) or `none`; unset, both when
    AUDIT_ROLE_NAME is set (workloads are read through that role), else none."""
    text = (text or "").strip()
    if not text:
        return frozenset(WORKLOAD_TYPES) if role_name else frozenset()
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if items == ["none"]:
        return frozenset()
    unknown = sorted(set(items) - set(WORKLOAD_TYPES))
    if unknown or not items:
        raise ConfigError(
            f"WORKLOAD_TYPES must be ecs, lambda, both (ecs,lambda) or none, not {text!r}"
        )
    if not role_name:
        raise ConfigError(
            "WORKLOAD_TYPES needs AUDIT_ROLE_NAME: workloads are read through that role "
            "(set WORKLOAD_TYPES=none to switch discovery off)"
        )
    return frozenset(items)


LOCATION_RE = re.compile(r"^[0-9]{12}/[0-9a-z-]{2,25}$")
NAME_MAX = 32


def parse_location_names(text: str) -> dict[str, str]:
    """LOCATION_NAMES: `{"222222222222/eu-west-1": "prod"}` or `222222222222/eu-west-1=prod,...`."""
    text = text.strip()
    if not text:
        return {}
    if text[0] in "{[":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"LOCATION_NAMES is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError("LOCATION_NAMES must be a JSON object of account/region to name")
        pairs = list(raw.items())
    else:
        pairs = []
        for part in (p.strip() for p in text.split(",")):
            location, equals, name = part.partition("=")
            if not equals:
                raise ConfigError(
                    f"LOCATION_NAMES entry {part!r} must look like 222222222222/eu-west-1=prod"
                )
            pairs.append((location.strip(), name.strip()))
    names: dict[str, str] = {}
    for location, name in pairs:
        if not isinstance(location, str) or not LOCATION_RE.match(location):
            raise ConfigError(
                f"LOCATION_NAMES key {location!r} must be account/region, "
                "e.g. 222222222222/eu-west-1"
            )
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX or not name.isprintable():
            raise ConfigError(
                f"LOCATION_NAMES name for {location} must be 1-{NAME_MAX} printable characters"
            )
        if name in names.values():
            raise ConfigError(f"LOCATION_NAMES gives the name {name!r} to two locations")
        names[location] = name
    return names
