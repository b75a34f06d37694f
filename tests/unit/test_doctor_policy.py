"""The doctor's registry-policy evaluation (pure): principals, actions with wildcards, resources,
Deny, conditions; and the replication pairs it checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.lifecycle import Location
from chalicelib.core.policies import CREATE, REPLICATE, Pair, evaluate, pairs
from chalicelib.core.rules import parse_replication_config
from tests import events as ev

SOURCE = "111122223333"  # the account the AWS documentation sample names
RESOURCE = "arn:aws:ecr:eu-west-1:222222222222:repository/team/*"
SAMPLE = (ev.SAMPLES / "ecr-registry-policy-cross-account-replication.json").read_text()


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**fields: Any) -> dict[str, Any]:
    base = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
        "Action": [REPLICATE, CREATE],
        "Resource": "*",
    }
    return {**base, **fields}


def test_the_documented_policy_allows_both_actions() -> None:
    for action in (REPLICATE, CREATE):
        verdict = evaluate(SAMPLE, SOURCE, action, RESOURCE)
        assert verdict.allowed is True
        assert verdict.reason == 'allowed by statement "AllowCrossAccountReplication"'
        assert verdict.statement and verdict.statement["Sid"] == "AllowCrossAccountReplication"


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": SOURCE},
        {"AWS": ["999999999999", f"arn:aws:iam::{SOURCE}:root"]},
        {"AWS": "*"},
        "*",
    ],
    ids=["account-id", "list", "aws-star", "star"],
)
def test_principal_forms_that_name_the_source(principal: Any) -> None:
    assert evaluate(policy(allow(Principal=principal)), SOURCE, REPLICATE, RESOURCE).allowed


def test_a_role_of_the_source_account_is_not_the_account() -> None:
    text = policy(allow(Principal={"AWS": f"arn:aws:iam::{SOURCE}:role/ci"}))
    verdict = evaluate(text, SOURCE, REPLICATE, RESOURCE)
    assert verdict.allowed is False
    assert verdict.reason == (
        f"no Allow statement names account {SOURCE} as principal "
        f"(it names arn:aws:iam::{SOURCE}:role/ci)"
    )


@pytest.mark.parametrize("action", ["ecr:*", "ecr:Replicate*", "*", "ECR:replicateimage"])
def test_action_wildcards_and_case(action: str) -> None:
    assert evaluate(policy(allow(Action=action)), SOURCE, REPLICATE, RESOURCE).allowed


def test_missing_action_is_named() -> None:
    text = policy(allow(Sid="OnlyReplicate", Action="ecr:ReplicateImage"))
    assert evaluate(text, SOURCE, REPLICATE, RESOURCE).allowed
    verdict = evaluate(text, SOURCE, CREATE, RESOURCE)
    assert verdict.allowed is False
    assert verdict.reason == (
        f'statement "OnlyReplicate" names account {SOURCE} but not the action ecr:CreateRepository'
    )


def test_not_action_is_the_complement() -> None:
    text = policy(allow(Action=None, NotAction="ecr:CreateRepository"))
    assert evaluate(text, SOURCE, REPLICATE, RESOURCE).allowed
    assert evaluate(text, SOURCE, CREATE, RESOURCE).allowed is False


@pytest.mark.parametrize(
    "resource,allowed",
    [
        ("arn:aws:ecr:eu-west-1:222222222222:repository/*", True),
        ("arn:aws:ecr:*:222222222222:repository/*", True),
        ("arn:aws:ecr:eu-west-1:222222222222:repository/team/*", True),
        ("arn:aws:ecr:us-west-2:222222222222:repository/*", False),  # another Region
        ("arn:aws:ecr:eu-west-1:333333333333:repository/*", False),  # another registry
        ("arn:aws:ecr:eu-west-1:222222222222:repository/tools/*", False),
    ],
)
def test_resources_must_cover_the_rules_repositories(resource: str, allowed: bool) -> None:
    verdict = evaluate(policy(allow(Resource=resource)), SOURCE, REPLICATE, RESOURCE)
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.reason.endswith(f"but not {RESOURCE}")


def test_an_unconditional_deny_wins_and_is_quoted() -> None:
    deny = {
        "Sid": "NoReplication",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:Replicate*",
        "Resource": "*",
    }
    verdict = evaluate(policy(allow(), deny), SOURCE, REPLICATE, RESOURCE)
    assert verdict.allowed is False
    assert verdict.reason == 'denied by statement "NoReplication"' and verdict.statement == deny
    assert evaluate(policy(allow(), deny), SOURCE, CREATE, RESOURCE).allowed is True


def test_conditions_cannot_be_settled_here() -> None:
    blocking = allow(
        Sid="OnlyFromEcr",
        Principal="*",
        Condition={"StringEquals": {"aws:SourceAccount": SOURCE}},
    )
    verdict = evaluate(policy(blocking), SOURCE, REPLICATE, RESOURCE)
    assert verdict.allowed is None
    assert "StringEquals aws:SourceAccount" in verdict.reason
    assert 'statement "OnlyFromEcr" only under a condition' in verdict.reason
    conditional_deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    unsure = evaluate(policy(allow(), conditional_deny), SOURCE, REPLICATE, RESOURCE)
    assert unsure.allowed is None and "statement #2 denies it under a condition" in unsure.reason


@pytest.mark.parametrize(
    "text,reason",
    [
        (None, "the destination registry has no registry policy"),
        ("{not json", "the registry policy is not JSON"),
        (
            policy(
                {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"}
            ),
            "the registry policy has no Allow statement",
        ),
    ],
)
def test_no_usable_policy(text: str | None, reason: str) -> None:
    verdict = evaluate(text, SOURCE, REPLICATE, RESOURCE)
    assert verdict.allowed is False and verdict.reason.startswith(reason)


def test_pairs_unite_filters_per_source_and_destination() -> None:
    dev, prod, dr = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
    config = parse_replication_config(
        [
            ev.registry(
                ev.DEV, ([ev.PROD, ev.DR], ["team/"]), ([ev.PROD], ["tools/"]), ([ev.DEV], [])
            )
        ]
    )
    assert pairs(config) == [Pair(dev, prod, ("team/", "tools/")), Pair(dev, dr, ("team/",))]
    everything = parse_replication_config(
        [ev.registry(ev.DEV, ([ev.PROD], ["team/"]), ([ev.PROD], []))]
    )
    (pair,) = pairs(everything)
    assert pair.prefixes == () and pair.scope == "every repository"
    assert pair.resources() == ["arn:aws:ecr:eu-west-1:222222222222:repository/*"]
    cn = Pair(dev, Location("222222222222", "cn-north-1"), ("team/",))
    assert cn.resources() == ["arn:aws-cn:ecr:cn-north-1:222222222222:repository/team/*"]
