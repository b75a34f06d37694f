"""`reconcile --all --backfill` and `reconcile --backfill-status` as a user runs them: separate
processes against the session's emulator, which answers ECR's backfill API
(chalicelib/local/emulated_backfills.py: a backfill moves one step, PREPARING -> IN_PROGRESS ->
COMPLETE, each time it is listed or described, and really copies the images). Four accounts: dev
replicating team/ to prod and prod2 (both eu-west-1) and DR (us-east-1), images older than the
rules that never reached them: one backfill started per destination Region, a second run
reports the running ones instead of starting others, --backfill-status records each image the
backfills replicated (and shows the one that failed), and a later run starts what waited."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.roles import AuditRoles
from tests import events as ev
from tests.e2e.test_cli import cli, one_line_error
from tests.e2e.test_reconcile import ecr, estate, roles  # noqa: F401  (fixtures)
from tests.registry_helpers import put_image, unique


def lines_with(text: str, *words: str) -> list[str]:
    return [line for line in text.splitlines() if all(w in line for w in words)]


def at(where: tuple[str, str]) -> str:
    return f"{where[0]}/{where[1]}"


@pytest.fixture
def old_images(roles: AuditRoles, estate: Any, configure: Any) -> Any:  # noqa: F811
    """Two repositories of two images each at dev; prod holds v1 of each, DR an IMMUTABLE first
    repository with its own v2, prod2 nothing. The rules are in REPLICATION_CONFIG and in dev's
    registry (ECR backfills what the registry's own configuration sends). prod2's account sorts
    before prod's (new_account() starts with 4): the auditor starts prod2's backfill first."""
    dev, prod, dr = estate
    prod2 = ("39" + "".join(random.choices("0123456789", k=10)), "eu-west-1")
    config = ev.registry(dev, ([prod, prod2, dr], ["team/"]))
    configure(REPLICATION_CONFIG=[config], REPLICATION_GRACE_SECONDS="1")
    ecr(roles, dev).put_replication_configuration(
        replicationConfiguration=config["replicationConfiguration"]
    )
    names = sorted(unique(f"team/svc{n}") for n in range(2))
    for name in names:
        for where in (dev, prod):
            ecr(roles, where).create_repository(repositoryName=name)
        put_image(ecr(roles, dev), name, ev.digest(f"{name}-1"), "v1")
        put_image(ecr(roles, dev), name, ev.digest(f"{name}-2"), "v2")
        put_image(ecr(roles, prod), name, ev.digest(f"{name}-1"), "v1")
    ecr(roles, dr).create_repository(repositoryName=names[0], imageTagMutability="IMMUTABLE")
    put_image(ecr(roles, dr), names[0], ev.digest("dr's own v2"), "v2")
    time.sleep(1.5)  # older than the grace period: ECR would not replicate them any more
    return dev, prod, prod2, dr, names


def outcomes(report: dict[str, Any], labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        labels[f"{s['destination']['account']}/{s['destination']['region']}"]: s
        for s in report["backfills_started"]
    }


def test_backfills_start_once_per_region_and_their_results_are_recorded(
    old_images: Any, alerts: Any, replay: Any
) -> None:
    dev, prod, prod2, dr, names = old_images
    labels = {at(prod): "prod", at(prod2): "prod2", at(dr): "dr"}

    first = cli("reconcile", "--all", "--backfill", "--rate", "50", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["never_total"] == 2 + 4 + 4  # v2 not in prod; nothing in prod2; DR's v2 its own
    started = outcomes(report, labels)
    assert {label: s["outcome"] for label, s in started.items()} == {
        "prod2": "started",
        "dr": "started",
        "prod": "waiting",  # one per destination Region: prod2 took eu-west-1
    }
    ids = {label: started[label]["id"] for label in ("prod2", "dr")}
    assert started["prod"]["id"] == ids["prod2"]
    assert "in eu-west-1 (ECR allows one per Region)" in started["prod"]["note"]

    second = cli("reconcile", "--all", "--backfill", "--rate", "50")
    assert second.returncode == 0, second.stderr
    said = {label: lines_with(second.stdout, f"backfill {at(dev)} -> {at(where)}: ")
            for label, where in (("prod", prod), ("prod2", prod2), ("dr", dr))}  # fmt: skip
    assert said["prod2"] == [
        f"backfill {at(dev)} -> {at(prod2)}: in_progress: backfill {ids['prod2']} is IN_PROGRESS"
    ]
    assert said["dr"] == [
        f"backfill {at(dev)} -> {at(dr)}: in_progress: backfill {ids['dr']} is IN_PROGRESS"
    ]
    (waiting,) = said["prod"]
    assert f": waiting: backfill {ids['prod2']} to {at(prod2)} is in progress" in waiting

    status = cli("reconcile", "--backfill-status")
    assert (status.returncode, status.stderr) == (0, "")
    out = status.stdout.splitlines()
    headers = [n for n, line in enumerate(out) if line.startswith(tuple(ids.values()))]
    assert len(headers) == 2, status.stdout  # the second run started nothing
    blocks = {out[n].split()[0]: out[n : n + 3] for n in headers}
    prod2_block, dr_block = blocks[ids["prod2"]], blocks[ids["dr"]]
    assert prod2_block[0].startswith(f"{ids['prod2']} {at(dev)} -> {at(prod2)}: COMPLETE, ended ")
    assert prod2_block[0].endswith("; 4/4 replicated, 0 failed")
    assert prod2_block[1] == "  4 image results; 4 image(s) recorded as arrived"
    assert dr_block[0].endswith("; 3/4 replicated, 1 failed (IMAGE_TAG_IMMUTABLE)")
    assert dr_block[1] == "  4 image results; 3 image(s) recorded as arrived"
    assert dr_block[2].startswith(f"  FAILED {names[0]}:v2 sha256:")
    assert dr_block[2].endswith(": IMAGE_TAG_IMMUTABLE")

    deps = bootstrap.deps()
    for name in names:
        for n in (1, 2):
            facts = deps.images.load(name, ev.digest(f"{name}-{n}")).facts
            states = {r.destination.account: r.state for r in facts.replicas}
            assert states.get(prod2[0]) == "replicated", (name, n, states)
            failed = (name, n) == (names[0], 2)
            assert (states.get(dr[0]) == "replicated") is not failed, (name, n, states)
    replay(ev.schedule(datetime.now(UTC) + timedelta(hours=1)))
    assert alerts.kinds() == []  # history pages nobody

    again = cli("reconcile", "--backfill-status", "--json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert [b["recorded"] for b in document["backfills"]] == [0, 0]  # recorded once only
    failed = [r for b in document["backfills"] for r in b["results"] if r["status"] == "FAILED"]
    assert [(r["repository"], r["tag"], r["failure_code"]) for r in failed] == [
        (names[0], "v2", "IMAGE_TAG_IMMUTABLE")
    ]

    third = cli("reconcile", "--all", "--backfill", "--rate", "50", "--json")
    assert third.returncode == 0, third.stderr
    report = json.loads(third.stdout)
    assert report["never_total"] == 2 + 1  # prod's v2s; DR's immutable v2
    assert {label: s["outcome"] for label, s in outcomes(report, labels).items()} == {
        "prod": "started",  # eu-west-1 is free again; prod2 has every image now
        "dr": "started",
    }


def test_backfill_usage_errors_are_one_line_with_exit_2(old_images: Any) -> None:
    for args, words in (
        (["reconcile", "--repository", "team/api", "--backfill"], "go with --all"),
        (["reconcile", "--backfill"], "pass one of --repository R, --all or --backfill-status"),
        (["reconcile", "--all", "--backfill-status"], "pass one of"),
        (["reconcile", "--all", "--backfill", "--backfill-role", "no role!"], "not an IAM role"),
    ):
        one_line_error(cli(*args), 2, words)
