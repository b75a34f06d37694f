"""`reconcile` through the command line against the moto server, with ECR in three accounts
reached through the audit role and images put with explicit digests: a replica the ledger
thought pending found present (recorded, no alert), a destination tag that differs (marked,
corrected), images older than the auditor (recorded, listed as never reached, no alert), and
`--all` interrupted mid-walk, then resumed from its checkpoint in the ledger."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap, cli
from chalicelib.adapters.roles import AuditRoles
from chalicelib.usecases import queries
from tests import events as ev
from tests.conftest import ROOT
from tests.registry_helpers import ROLE, new_account, put_image, unique

D1, D3 = ev.digest("rec-1"), ev.digest("rec-3")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


@pytest.fixture
def estate(configure: Any) -> Any:
    """Three fresh accounts (dev replicating team/ to prod and DR), the audit role set."""
    dev, prod, dr = (
        (new_account(), "us-west-2"),
        (new_account(), "eu-west-1"),
        (new_account(), "us-east-1"),
    )
    configure(
        REPLICATION_CONFIG=[ev.registry(dev, ([prod, dr], ["team/"]))],
        AUDIT_ROLE_NAME=ROLE,
        LOCATION_NAMES={f"{prod[0]}/{prod[1]}": "prod", f"{dr[0]}/{dr[1]}": "dr"},
    )
    return dev, prod, dr


def ecr(roles: AuditRoles, where: tuple[str, str]) -> Any:
    return roles.client("ecr", *where)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def line_with(text: str, *words: str) -> str:
    found = [line for line in text.splitlines() if all(w in line for w in words)]
    assert len(found) == 1, (words, text)
    return found[0]


def test_a_lost_arrival_is_recorded_and_a_destination_tag_corrected_without_alerts(
    roles: AuditRoles, estate: Any, replay: Any, alerts: Any, capsys: Any
) -> None:
    dev, prod, dr = estate
    name = unique("team/api")
    for where in (dev, prod, dr):
        ecr(roles, where).create_repository(repositoryName=name)
    put_image(ecr(roles, dev), name, D1, "v1")
    put_image(ecr(roles, prod), name, D1, "v1")
    # moto drops an image whose last tag moves away (ECR keeps it untagged): a second tag
    put_image(ecr(roles, prod), name, D1, "keep")
    put_image(ecr(roles, prod), name, D3, "v1")  # pushed by hand in prod: v1 moves to D3
    put_image(ecr(roles, dr), name, D1, "v1")  # arrived; its event was lost
    now = datetime.now(UTC).replace(microsecond=0)
    replay(ev.push(dev, name, "v1", D1, now - timedelta(minutes=10)))
    replay(ev.replication(prod, dev, name, "v1", D1, now - timedelta(minutes=8)))
    replay(ev.schedule(now))  # judges the events' tag entries; DR is pending (due in 20 min)
    assert alerts.kinds() == []

    code, out, err = run(capsys, "reconcile", "--repository", name, "--tag", "v1")
    assert (code, err) == (0, ""), err
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reconcile-sample.txt").write_text(out)  # for the README and release notes
    assert out.splitlines()[0] == f"{name} (tag v1)"
    short = {d: f"sha256:{d.split(':')[1][:12]}" for d in (D1, D3)}
    dr_line = line_with(out, "! replica", "registry present since")
    assert "ledger pending -> recorded replicated" in dr_line
    prod_line = line_with(out, "  replica", "ledger replicated")
    assert "registry present since" in prod_line and not prod_line.startswith("  !")
    assert "ECR:" not in dr_line  # every destination has it: ECR's own view is not asked
    prod_tag = line_with(out, "! tag v1", f"ledger: {short[D1]}")
    assert prod_tag.strip() == f"! tag v1 -> {short[D3]}  ledger: {short[D1]} -> corrected"
    dr_tag = line_with(out, "! tag v1", "ledger: -")  # no event ever told the ledger
    assert dr_tag.strip() == f"! tag v1 -> {short[D1]}  ledger: - -> corrected"
    assert f"prod {prod[0]}/{prod[1]} (destination)" in out
    assert out.splitlines()[-1] == (
        "2 image(s): 2 recorded (1 new to the ledger), 1 replica(s) recorded as arrived, "
        "2 tag head(s) corrected, 0 replica(s) never reached"
    )

    deps = bootstrap.deps()
    described = queries.describe_images(name, D1, None, 10, None, deps)
    assert {r["destination"]["account"]: r["state"] for r in described["replicas"]} == {
        prod[0]: "replicated",
        dr[0]: "replicated",
    }
    tags = {loc["account"]: loc["tags"] for loc in queries.describe_images(
        name, None, "v1", 10, None, deps)["locations"]}  # fmt: skip
    assert tags[prod[0]] == {"v1": D3} and tags[dev[0]] == {"v1": D1}

    replay(ev.schedule(now + timedelta(minutes=40)))  # past DR's due time
    # Recorded as arrived: nothing missing. Prod's hand-pushed v1 (D3) diverges from dev's, and
    # reconcile's correction of the head reported no overwrite: at the replica's due time that
    # divergence is TAG_DRIFT, once (an explanation must be an overwrite the ledger reported).
    [drift] = [a["body"] for a in alerts.drain()]
    assert (drift["kind"], drift["destination"]["account"]) == ("TAG_DRIFT", prod[0])
    assert (drift["digest"], drift["previous_digest"]) == (D1, D3)

    code, out, _ = run(capsys, "reconcile", "--repository", name, "--tag", "v1", "--json")
    document = json.loads(out)
    assert code == 0
    assert document["summary"]["recorded"] == 0 and document["summary"]["tags_corrected"] == 0
    assert all(t["agrees"] for loc in document["locations"] for t in loc["tags"])


def test_reconcile_all_records_old_images_lists_them_and_resumes_after_ctrl_c(
    roles: AuditRoles,
    estate: Any,
    configure: Any,
    replay: Any,
    alerts: Any,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.client import BaseClient

    dev, prod, dr = estate
    configure(REPLICATION_GRACE_SECONDS="1")  # so that the images below are old by now
    names = sorted(unique(f"team/svc{n}") for n in range(3))
    for name in names:
        for where in (dev, prod, dr):
            ecr(roles, where).create_repository(repositoryName=name)
        put_image(ecr(roles, dev), name, ev.digest(f"{name}-1"), "v1")
        put_image(ecr(roles, dev), name, ev.digest(f"{name}-2"), "v2")
        put_image(ecr(roles, prod), name, ev.digest(f"{name}-1"), "v1")
    ecr(roles, dev).create_repository(repositoryName="other/tool")  # no rule covers it
    time.sleep(1.5)  # older than the grace period: ECR would not replicate them any more

    original = BaseClient._make_api_call
    fired = []

    def ctrl_c_in_second_repository(self: Any, operation: str, params: Any) -> Any:
        if not fired and params.get("repositoryName") == names[1]:
            fired.append(operation)
            raise KeyboardInterrupt
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", ctrl_c_in_second_repository)
    code, out, err = run(capsys, "reconcile", "--all", "--rate", "50")
    assert code == 130 and fired
    assert out.startswith("interrupted after 1 of 3 repositories")
    assert "reconcile --all --resume" in err
    assert "[" in err and "1/3 repositories" in err  # the progress bar, on stderr

    monkeypatch.setattr(BaseClient, "_make_api_call", original)
    code, out, err = run(capsys, "reconcile", "--all", "--resume", "--rate", "50", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["resumed"] and document["finished"]
    assert document["repositories"] == 3 and document["this_run"]["repositories"] == 2
    assert document["images"] == 6 and document["predating"] == 6
    assert document["never_total"] == 3 * 2 + 3  # nothing in DR, v2 nowhere
    reached = {(n["repository"], n["destination"]) for n in document["never_reached"]}
    assert (names[0], f"{prod[0]}/{prod[1]}") in reached
    assert all(n["ledger"] is None for n in document["never_reached"])  # not expected
    assert document["pairs"] == sorted(
        [[f"{dev[0]}/{dev[1]}", f"{d[0]}/{d[1]}"] for d in (prod, dr)]
    )
    assert document["this_run"]["calls_per_second"] <= 50

    deps = bootstrap.deps()
    (replica,) = deps.images.load(names[2], ev.digest(f"{names[2]}-1")).facts.replicas
    assert (replica.destination.account, replica.state) == (prod[0], "replicated")
    assert deps.images.load(names[2], ev.digest(f"{names[2]}-2")).facts.replicas == ()
    replay(ev.schedule(datetime.now(UTC) + timedelta(hours=1)))
    assert alerts.kinds() == []  # history alerts nobody

    code, out, _ = run(capsys, "reconcile", "--all", "--resume")
    assert code == 0 and "(resumed)" not in out  # the walk had finished: a new one
    assert "0 recorded" in line_with(out, "repositories,", "images:")
    assert "Never reached (ECR replicates only what is pushed after a rule exists):" in out


def test_usage_errors_are_one_line_with_exit_2(estate: Any, capsys: Any, monkeypatch: Any) -> None:
    for args, words in (
        (["reconcile"], "pass one of --repository R, --all or --backfill-status"),
        (["reconcile", "--all", "--tag", "v1"], "--tag and --digest go with --repository"),
        (["reconcile", "--repository", "team/api", "--resume"], "go with --all"),
        (["reconcile", "--all", "--rate", "0"], "--rate must be"),
        (["reconcile", "--repository", "Team//api"], "is not an ECR repository name"),
        (["reconcile", "--repository", "nope/api"], "no replication rule sends nope/api"),
    ):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == "", (args, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and words in err, (args, err)
    monkeypatch.delenv("AUDIT_ROLE_NAME")
    code, _, err = run(capsys, "reconcile", "--repository", "team/api")
    assert code == 2 and "set AUDIT_ROLE_NAME" in err
