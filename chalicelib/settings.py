"""The one reader of the environment: every setting, typed and validated, in one object."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain import ACCOUNT_RE, ConfigError, ReplicationConfig, parse_replication_config

ALERT_FORMATS = ("json", "chatbot")


@dataclass(frozen=True)
class Settings:
    audit_table: str
    alert_topic_arn: str
    replication: ReplicationConfig
    grace: timedelta
    monitored_accounts: frozenset[str]
    slack_webhook_secret_arn: str | None
    alert_format: str
    # Secrets Manager secret holding the HMAC key of pagination cursors (adapters/cursors.py);
    # unset: a key derived from the table name.
    cursor_key_secret_arn: str | None = None

    def accepts_account(self, account: str) -> bool:
        return account in self.monitored_accounts

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get("AUDIT_TABLE", "").strip()
        topic = env.get("ALERT_TOPIC_ARN", "").strip()
        if not table:
            raise ConfigError("AUDIT_TABLE is required: the DynamoDB table holding the ledger")
        if not topic:
            raise ConfigError("ALERT_TOPIC_ARN is required: the SNS topic for alerts")
        try:
            raw = json.loads(env.get("REPLICATION_CONFIG", "") or "[]")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"REPLICATION_CONFIG is not valid JSON: {exc}") from exc
        replication = parse_replication_config(raw)
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
            accounts = replication.accounts()
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
            cursor_key_secret_arn=env.get("CURSOR_KEY_SECRET_ARN", "").strip() or None,
        )
