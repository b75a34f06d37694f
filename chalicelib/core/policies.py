"""Registry policies: does a destination's registry permissions policy let a source account
replicate there (`ecr:ReplicateImage`, and `ecr:CreateRepository` unless the repositories exist)?
Pure: evaluate() reads a policy document like IAM does for these actions; pairs() lists the
(source, destination) pairs the rules name."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.core.lifecycle import Location, partition_of
from chalicelib.core.rules import ReplicationConfig

REPLICATE = "ecr:ReplicateImage"
CREATE = "ecr:CreateRepository"

# ----------------------------------------------------------------------------- policy evaluation


@dataclass(frozen=True)
class Verdict:
    """Whether a policy lets an account do an action on a resource, and why."""

    allowed: bool | None  # None: cannot tell here (a condition decides)
    reason: str
    statement: Mapping[str, Any] | None = None  # the statement that decides, to quote


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _glob(pattern: str, text: str, *, case: bool) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _names_account(principal: Any, account: str) -> bool:
    """Does a Principal block name the account (`*`, the id, or its root ARN)?"""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _as_list(principal.get("AWS")):
        text = str(value)
        if text in ("*", account) or re.fullmatch(rf"arn:aws[a-z-]*:iam::{account}:root", text):
            return True
    return False


def _label(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f'statement "{sid}"' if sid else f"statement #{index + 1}"


@dataclass(frozen=True)
class _Fit:
    index: int
    statement: Mapping[str, Any]
    principal: bool
    action: bool
    resource: bool

    @property
    def matches(self) -> bool:
        return self.principal and self.action and self.resource

    @property
    def misses(self) -> int:
        return [self.principal, self.action, self.resource].count(False)


def _fit(
    index: int, statement: Mapping[str, Any], account: str, action: str, resource: str
) -> _Fit:
    if "NotPrincipal" in statement:
        principal = not _names_account(statement["NotPrincipal"], account)
    else:
        principal = _names_account(statement.get("Principal"), account)
    if "NotAction" in statement:
        acts = not any(_glob(str(a), action, case=False) for a in _as_list(statement["NotAction"]))
    else:
        acts = any(_glob(str(a), action, case=False) for a in _as_list(statement.get("Action")))
    if "NotResource" in statement:
        res = not any(
            _glob(str(r), resource, case=True) for r in _as_list(statement["NotResource"])
        )
    else:
        # A policy without Resource applies to the registry's every repository.
        patterns = _as_list(statement.get("Resource", "*"))
        res = any(_glob(str(r), resource, case=True) for r in patterns)
    return _Fit(index, statement, principal, acts, res)


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, Mapping)]


def evaluate(policy_text: str | None, account: str, action: str, resource: str) -> Verdict:
    """Does the registry policy let `account` perform `action` on `resource`?

    Explicit Deny wins; an Allow or Deny with a Condition cannot be settled here (the request
    context ECR's replication carries is not ours to see), so it gives `None` with the
    condition quoted.
    """
    if not policy_text:
        return Verdict(False, "the destination registry has no registry policy")
    try:
        policy = json.loads(policy_text)
    except json.JSONDecodeError as error:
        return Verdict(False, f"the registry policy is not JSON ({error})")
    if not isinstance(policy, Mapping):
        return Verdict(False, "the registry policy is not a JSON object")
    fits = [_fit(i, s, account, action, resource) for i, s in enumerate(_statements(policy))]
    denies = [f for f in fits if f.matches and f.statement.get("Effect") == "Deny"]
    allows = [f for f in fits if f.matches and f.statement.get("Effect") == "Allow"]
    for deny in denies:
        if "Condition" not in deny.statement:
            return Verdict(False, f"denied by {_label(deny.statement, deny.index)}", deny.statement)
    plain = [f for f in allows if "Condition" not in f.statement]
    if plain and denies:
        deny = denies[0]
        return Verdict(
            None,
            f"allowed by {_label(plain[0].statement, plain[0].index)}, but "
            f"{_label(deny.statement, deny.index)} denies it under a condition "
            f"({_condition_keys(deny.statement)}) that cannot be checked here",
            deny.statement,
        )
    if plain:
        return Verdict(
            True, f"allowed by {_label(plain[0].statement, plain[0].index)}", plain[0].statement
        )
    if allows:
        allow = allows[0]
        return Verdict(
            None,
            f"allowed by {_label(allow.statement, allow.index)} only under a condition "
            f"({_condition_keys(allow.statement)}); ECR's replication request may not satisfy "
            "it (a condition such as aws:SourceAccount can block it)",
            allow.statement,
        )
    return Verdict(False, _why_not(fits, account, action, resource), _closest(fits))


def _condition_keys(statement: Mapping[str, Any]) -> str:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return "?"
    keys = [f"{op} {key}" for op, body in condition.items() for key in _as_list_keys(body)]
    return ", ".join(keys) or "?"


def _as_list_keys(body: Any) -> list[str]:
    return [str(k) for k in body] if isinstance(body, Mapping) else []


def _closest(fits: Sequence[_Fit]) -> Mapping[str, Any] | None:
    allows = [f for f in fits if f.statement.get("Effect") == "Allow"]
    return min(allows, key=lambda f: f.misses).statement if allows else None


def _why_not(fits: Sequence[_Fit], account: str, action: str, resource: str) -> str:
    allows = [f for f in fits if f.statement.get("Effect") == "Allow"]
    if not allows:
        return "the registry policy has no Allow statement"
    best = min(allows, key=lambda f: f.misses)
    label = _label(best.statement, best.index)
    if not any(f.principal for f in allows):
        named = sorted(
            {
                str(p)
                for f in allows
                for p in _as_list((f.statement.get("Principal") or {}).get("AWS"))
                if isinstance(f.statement.get("Principal"), Mapping)
            }
        )
        found = f" (it names {', '.join(named)})" if named else ""
        return f"no Allow statement names account {account} as principal{found}"
    if not best.action:
        return f"{label} names account {account} but not the action {action}"
    if not best.resource:
        return f"{label} names account {account} and {action} but not {resource}"
    return f"no Allow statement grants {action} to account {account}"  # pragma: no cover


# ----------------------------------------------------------------------------- pairs


@dataclass(frozen=True)
class Pair:
    """A source registry replicating to a destination, for repositories with these prefixes."""

    source: Location
    destination: Location
    prefixes: tuple[str, ...] = ()  # empty: every repository

    @property
    def scope(self) -> str:
        return ", ".join(f"{p}*" for p in self.prefixes) if self.prefixes else "every repository"

    def resources(self) -> list[str]:
        dest = self.destination
        base = f"arn:{partition_of(dest.region)}:ecr:{dest.region}:{dest.account}:repository/"
        return [base + p + "*" for p in self.prefixes] if self.prefixes else [base + "*"]

    def covers(self, repository: str) -> bool:
        return not self.prefixes or any(repository.startswith(p) for p in self.prefixes)


def pairs(config: ReplicationConfig) -> list[Pair]:
    """One pair per (source, destination) the rules name; filters united across rules."""
    found: dict[tuple[Location, Location], set[str] | None] = {}
    for registry in config.sources:
        for rule in registry.rules:
            for destination in rule.destinations:
                if destination == registry.location:
                    continue  # ECR ignores it, and so do we
                key = (registry.location, destination)
                if key in found and found[key] is None:
                    continue
                if not rule.prefixes:
                    found[key] = None  # every repository
                else:
                    found.setdefault(key, set())
                    found[key].update(rule.prefixes)  # type: ignore[union-attr]
    return [
        Pair(source, destination, tuple(sorted(prefixes or ())))
        for (source, destination), prefixes in sorted(found.items())
    ]
