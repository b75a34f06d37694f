"""The composition root: builds the use cases' dependencies once, lazily, from Settings.

Nothing here runs at import time, so a cold start pays for boto3 only when a handler needs it
(the clients come from adapters/clients.py).
Tests call `reset()` after changing the environment.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.ports import AlertChannel, Deps
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.usecases.inventory import CheckpointStore

# Sweep steps in flight at once (sweep.py): each waits on DynamoDB a few ms at a time, and 24
# keep up with 200 pushes a second (docs/ledger.md); within the clients' connection pools.
SWEEP_WORKERS = 24


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _cursors(settings: Settings) -> Any:
    from chalicelib.adapters.cursors import CursorCodec, secret_key, table_key

    if settings.cursor_key_secret_arn:
        return CursorCodec(secret_key(settings.cursor_key_secret_arn))
    return CursorCodec(table_key(settings.audit_table))


def build(settings: Settings | None = None) -> Deps:
    from chalicelib.adapters import clients, ledger
    from chalicelib.adapters.sns import SnsAlerts

    settings = settings or Settings.from_env()
    session = clients.session()
    channels: list[AlertChannel] = [
        SnsAlerts(
            clients.LazyClient(session, "sns"),
            settings.alert_topic_arn,
            settings.alert_format,
            settings.location_names,
        )
    ]
    if settings.slack_webhook_secret_arn:
        from chalicelib.adapters.slack import SlackAlerts, secret_webhook_url

        # A short timeout: a hung Slack must not eat the sweep's budget; the outbox retries.
        channels.append(
            SlackAlerts(
                secret_webhook_url(settings.slack_webhook_secret_arn),
                timeout=3.0,
                names=settings.location_names,
            )
        )
    dynamodb = clients.client(session, "dynamodb")
    table = ledger.checked_table(dynamodb, settings.audit_table, _cursors(settings))
    registries, discovery, workloads, inventory = None, None, None, None
    if settings.audit_role_name:
        from chalicelib.adapters.ecr import registry_for
        from chalicelib.adapters.registries import AuditedRegistries
        from chalicelib.adapters.roles import AuditRoles
        from chalicelib.adapters.rules_store import DynamoRulesStore
        from chalicelib.usecases.registry_rules import RuleDiscovery

        roles = AuditRoles(settings.audit_role_name, session=session)
        registries = AuditedRegistries(roles)
        if settings.workload_types:
            from chalicelib.adapters.workloads import AuditedWorkloads

            workloads = AuditedWorkloads(roles, settings.workload_types)
            inventory = ledger.DynamoWorkloads(table)
        if settings.replication_sources:
            discovery = RuleDiscovery(
                settings.replication,
                settings.replication_sources,
                lambda location: registry_for(roles, location),
                DynamoRulesStore(dynamodb, settings.audit_table),
            )
    return _ledger_deps(
        settings,
        table,
        channels,
        registries=registries,
        discovery=discovery,
        workloads=workloads,
        inventory=inventory,
        sweep_workers=SWEEP_WORKERS,
    )


def _ledger_deps(
    settings: Settings, table: Any, channels: list[AlertChannel], **extra: Any
) -> Deps:
    """The ledger's adapters over one table, with these channels (whose names the outbox keeps)."""
    from chalicelib.adapters import ledger

    return Deps(
        settings=settings,
        layout=ledger.DynamoLayout(table),
        images=ledger.DynamoImages(table),
        tags=ledger.DynamoTagHistory(table),
        incidents=ledger.DynamoIncidents(table),
        outbox=ledger.DynamoOutbox(table),
        counters=ledger.DynamoCounters(table),
        # one sweep lane reads the work shards one after another too
        work=ledger.DynamoWorkQueue(table, threads=extra.get("sweep_workers", 1)),
        writer=ledger.DynamoWriter(table, frozenset(c.name for c in channels)),
        channels=channels,
        clock=wall_clock,
        **extra,
    )


def build_ledger_only(settings: Settings, dynamodb: Any = None) -> Deps:
    """The ledger's ports and no alert channel, for commands that read the ledger or record
    facts that alert nobody (`wait`, `reconcile`): they need the table, not the topic.
    `dynamodb`: a client of the caller's (the command line's short timeouts)."""
    from chalicelib.adapters import clients, ledger

    client = dynamodb or clients.client(clients.session(), "dynamodb")
    table = ledger.checked_table(client, settings.audit_table, _cursors(settings))
    return _ledger_deps(settings, table, [])


def build_checkpoint_store(settings: Settings, dynamodb: Any) -> CheckpointStore:
    """Where `reconcile --all` keeps its place: one item in the ledger's table, holding
    inventory's Checkpoint (the adapter is handed its decoder, so it imports no use case)."""
    from chalicelib.adapters.checkpoint import DynamoCheckpointStore
    from chalicelib.usecases.inventory import Checkpoint

    return DynamoCheckpointStore(dynamodb, settings.audit_table, Checkpoint.from_json)


@functools.cache
def deps() -> Deps:
    return build()


@functools.cache
def link_mac() -> Any:
    """The KMS HMAC key that signs dashboard links (the `/view` authorizer's only dependency)."""
    from chalicelib.adapters import clients
    from chalicelib.adapters.kms import KmsMac

    key = Settings.from_env().dashboard_link_key
    if not key:
        raise RuntimeError("DASHBOARD_LINK_KEY_ARN is not set: dashboard links are off")
    return KmsMac(clients.client(clients.session(), "kms"), key)


def reset() -> None:
    deps.cache_clear()
    link_mac.cache_clear()
