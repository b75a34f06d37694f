"""Upgrading in place: a ledger written by the previous release (tests/fixtures/ledger-v2.json,
commit 1573574: no layout marker, one COUNTS/STATUS, one REPOS, one WORK partition) is refused
by the handlers until `migrate` moves it; then it answers as that release answered, and the rest
of the day gives the answers and alerts that release gave. The migration resumes where it
stopped, runs twice at once, and the first sweep does it on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.core.errors import LedgerLayoutError
from tests import legacy_ledger
from tests.conftest import ROOT, Alerts

FIXTURE = legacy_ledger.fixture()
# Fields later releases added to the documents the ledger answers with (the migration moves
# no document: every value the previous release gave must be there, unchanged).
NEW_FIELDS = {"runbook_url", "workloads"}  # 0068a3d; the workloads branch
ARTIFACT = ROOT / "test-artifacts" / "migration.json"


@pytest.fixture
def legacy(session: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The app pointed at a fresh copy of the fixture's ledger (its topic and queue new)."""
    from chalicelib.local.provision import provision, subscribe_queue

    env = provision(session, suffix=uuid.uuid4().hex[:10])
    env["AUDIT_TABLE"] = legacy_ledger.load(session, FIXTURE["items"])
    env["REPLICATION_CONFIG"] = json.dumps(FIXTURE["replication_config"])
    env["REPLICATION_GRACE_SECONDS"] = str(FIXTURE["grace_seconds"])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MONITORED_ACCOUNTS", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_SECRET_ARN", raising=False)
    bootstrap.reset()
    queue = subscribe_queue(session, env["ALERT_TOPIC_ARN"], f"q-{uuid.uuid4().hex[:8]}")
    clock = {"now": legacy_ledger.moment(FIXTURE["dumped_at"])}
    bootstrap.deps().clock = lambda: clock["now"]
    yield {
        "env": env,
        "clock": clock,
        "alerts": Alerts(session.client("sqs"), queue),
        "dynamodb": session.client("dynamodb"),
    }
    bootstrap.reset()


def partition(dynamodb: Any, table: str, pk: str, index: str | None = None) -> list[dict]:
    """Every item of one partition of the table (or of the index)."""
    attribute = "gsi1pk" if index else "pk"
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"{attribute} = :p",
        "ExpressionAttributeValues": {":p": {"S": pk}},
    }
    if index:
        request["IndexName"] = index
    return list(dynamodb.query(**request)["Items"])


def migrate_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "migrate", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_ledger_of_the_previous_release_is_refused_then_migrated_and_answers_the_same(legacy):
    env, dynamodb = legacy["env"], legacy["dynamodb"]
    table = env["AUDIT_TABLE"]
    first = next(e for e in FIXTURE["then"]["events"] if e["source"] == "aws.ecr")
    image = f"IMG#{first['detail']['repository-name']}#{first['detail']['image-digest']}"
    before = partition(dynamodb, table, image)
    with pytest.raises(LedgerLayoutError, match=r"layout 2 .*python -m chalicelib.cli migrate"):
        legacy_ledger.replay([first], legacy["clock"])
    with pytest.raises(LedgerLayoutError, match="layout 2"):
        bootstrap.deps().counters.status_counts(legacy["clock"]["now"])
    assert partition(dynamodb, table, image) == before  # nothing written
    assert partition(dynamodb, table, "LAYOUT") == []

    # The command line's migration, in process: its 24 h counts end at the fixture's time.
    lines: list[str] = []
    started = time.monotonic()
    report = bootstrap.deps().layout.migrate(legacy["clock"]["now"], lambda: True, lines.append)
    seconds = time.monotonic() - started
    assert "layout 2 -> 3" in lines[0] and "done in" in lines[-1], lines
    assert report.done and (report.from_version, report.to_version) == (2, 3)
    assert report.counters_after == report.counters_before  # the old ones were exact
    status = FIXTURE["answers"]["status"]["counts"]
    assert report.counters_after == {
        k: status[k] for k in ("pending", "missing", "failed", "drifted", "undeleted")
    }
    assert report.moved["repositories"] == len(FIXTURE["answers"]["matrix"]["repositories"])
    assert report.moved["work items"] > 0 and report.moved["hourly buckets"] > 0
    page = " ".join((ROOT / "docs" / "ledger.md").read_text().split())
    moved = report.moved
    assert (
        f"({moved['work items']} work items, {moved['repositories']} repositories, "
        f"{moved['hourly buckets']} hourly buckets moved;"
    ) in page  # docs/ledger.md's account of this run

    bootstrap.reset()
    bootstrap.deps().clock = lambda: legacy["clock"]["now"]
    answered = legacy_ledger.answers(bootstrap.deps())
    assert legacy_ledger.added_fields(FIXTURE["answers"], answered) <= NEW_FIELDS
    # Layout 2's shared items are gone; the new ones are there.
    assert partition(dynamodb, table, "REPOS") == partition(dynamodb, table, "COUNTS") == []
    assert partition(dynamodb, table, "WORK", index="work") == []
    legacy_buckets = {i["pk"]["S"] for i in FIXTURE["items"] if i["pk"]["S"].startswith("COUNTS#")}
    assert legacy_buckets and all(partition(dynamodb, table, pk) == [] for pk in legacy_buckets)
    assert [i["version"] for i in partition(dynamodb, table, "LAYOUT")] == [{"N": "3"}]

    legacy_ledger.replay(FIXTURE["then"]["events"], legacy["clock"])
    answered = legacy_ledger.answers(bootstrap.deps())
    assert legacy_ledger.added_fields(FIXTURE["then"]["answers"], answered) <= NEW_FIELDS

    def order(alert: dict[str, Any]) -> tuple[str, str, str]:
        return alert["kind"], alert["incident_id"], alert["detected_at"]

    sent = sorted((a["body"] for a in legacy["alerts"].drain()), key=order)
    expected = sorted(FIXTURE["then"]["alerts"], key=order)
    assert legacy_ledger.added_fields(expected, sent) <= NEW_FIELDS

    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(
        json.dumps(
            {
                "fixture": FIXTURE["written_by"],
                "items": len(FIXTURE["items"]),
                "seconds": round(seconds, 2),
                "moved": report.moved,
                "counters before": report.counters_before,
                "counters after": report.counters_after,
                "/status counts before and after": status,
                "progress": lines,
            },
            indent=2,
        )
        + "\n"
    )


def test_migrate_on_the_command_line(legacy):
    """`migrate` as a user runs it: progress, --json, exit 1 when stopped early, 0 when done
    or when there is nothing to do; then the handlers take the ledger."""
    env = legacy["env"]
    refused = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "status"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "is in layout 2" in refused.stderr and "chalicelib.cli migrate" in refused.stderr
    stopped = migrate_cli(env, "--max-seconds", "0")
    assert stopped.returncode == 1, stopped.stderr
    assert "stopped for time" in stopped.stdout
    assert stopped.stderr.startswith("error: the migration stopped before the end; run")
    migrated = migrate_cli(env, "--json")
    assert migrated.returncode == 0, migrated.stderr
    report = json.loads(migrated.stdout)
    assert report["done"] and report["from_version"] == 2 and report["to_version"] == 3
    assert "layout 2 -> 3" in migrated.stderr and "counters rebuilt" in migrated.stderr
    again = migrate_cli(env)
    assert again.returncode == 0 and "already in layout 3" in again.stdout, again.stderr
    bootstrap.reset()
    assert bootstrap.deps().images.repositories()  # the handlers' table takes it now


def test_a_migration_stopped_for_time_resumes_and_two_at_once_agree(legacy):
    from chalicelib.adapters import ledger

    table = ledger.Table(legacy["dynamodb"], legacy["env"]["AUDIT_TABLE"])
    budget = {"left": 6}

    def has_time() -> bool:
        budget["left"] -= 1
        return budget["left"] > 0

    lines: list[str] = []
    now = legacy["clock"]["now"]
    stopped = ledger.DynamoLayout(table).migrate(now, has_time, lines.append)
    assert not stopped.done and "stopped for time" in lines[-1]
    with pytest.raises(LedgerLayoutError):
        bootstrap.deps().counters.status_counts(legacy["clock"]["now"])

    reports: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: reports.append(
                ledger.DynamoLayout(table).migrate(now, lambda: True, lambda _: None)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.done for r in reports] == [True, True]
    bootstrap.reset()
    bootstrap.deps().clock = lambda: legacy["clock"]["now"]
    answered = legacy_ledger.answers(bootstrap.deps())
    assert legacy_ledger.added_fields(FIXTURE["answers"], answered) <= NEW_FIELDS


def test_the_first_sweep_migrates_the_ledger_on_its_own(legacy):
    import app as app_module
    from tests import events as ev

    sweep = ev.schedule(legacy["clock"]["now"])
    assert app_module.sweep(sweep, None)["outcome"] == "recorded"
    assert bootstrap.deps().layout.needs_migration() is False
    counts = bootstrap.deps().counters.status_counts(legacy["clock"]["now"])
    assert counts.pending + counts.missing > 0  # the fixture's, rebuilt; the ledger is open
