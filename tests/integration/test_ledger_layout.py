"""The ledger's layout marker: a provisioned table carries this release's, an empty table
without one is given it on first use, and a table in a layout this release does not know is
refused, before anything is written, with what to do: by the ledger, by an event handler (the
invocation fails, so Lambda retries the event), by the sweep and by the API (a 503)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.adapters import ledger
from chalicelib.adapters.ledger import keys, layout
from chalicelib.core.errors import LedgerLayoutError
from chalicelib.local.provision import table_request
from tests import events as ev


def bare_table(session: Any) -> Any:
    name = f"layout-{uuid.uuid4().hex[:10]}"
    client = session.client("dynamodb")
    client.create_table(**table_request(name))
    return ledger.Table(client, name)


def marked(table: Any, version: int) -> Any:
    layout.mark(table, version)
    return table


def test_a_provisioned_table_is_in_this_releases_layout(auditor_env, session):
    table = ledger.Table(session.client("dynamodb"), auditor_env["AUDIT_TABLE"])
    assert layout.version(table) == keys.LAYOUT_VERSION == 3


def test_an_empty_table_without_a_marker_is_given_one_on_first_use(session):
    table = bare_table(session)
    assert layout.version(table) is None
    checked = ledger.checked_table(table.client, table.name)
    assert ledger.DynamoImages(checked).repositories() == []
    assert layout.version(table) == keys.LAYOUT_VERSION


def test_a_ledger_v2_table_is_refused_with_the_command_that_migrates_it(session):
    table = bare_table(session)
    table.client.put_item(TableName=table.name, Item=table.item({"pk": "COUNTS", "sk": "STATUS",
                                                                  "pending": 3}))  # fmt: skip
    checked = ledger.checked_table(table.client, table.name)
    with pytest.raises(LedgerLayoutError, match=r"layout 2 .*`python -m chalicelib.cli migrate`"):
        ledger.DynamoImages(checked).load("team/api", ev.digest(1))
    assert layout.version(table) is None  # nothing written, not even a marker
    assert ledger.DynamoLayout(table).needs_migration() is True


def test_a_newer_layout_is_refused_everywhere_before_anything_is_written(
    auditor_env, session, client, monkeypatch
):
    import app as app_module
    from chalicelib import bootstrap

    table = ledger.Table(session.client("dynamodb"), auditor_env["AUDIT_TABLE"])
    marked(table, 4)
    bootstrap.reset()
    push = ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0))
    with pytest.raises(LedgerLayoutError, match="layout 4, newer than this release's"):
        app_module.on_image_action(push, None)
    with pytest.raises(LedgerLayoutError, match="deploy the release that wrote it"):
        app_module.sweep(ev.schedule(ev.at(40)), None)
    response = client.http.get("/status")
    assert response.status_code == 503
    assert "layout 4" in response.json_body["error"]
    assert ledger.DynamoImages(table).load("team/api", ev.digest(1)).applied == frozenset()
    assert ledger.DynamoLayout(table).needs_migration() is False  # not ours to migrate
