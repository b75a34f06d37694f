"""`doctor`'s report as people and machines read it: one block per pair, with the statement that
allows it or the reason it does not, and the command that fixes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core.alert_text import place
from chalicelib.core.lifecycle import Location, partition_of
from chalicelib.core.policies import CREATE, REPLICATE, Pair
from chalicelib.usecases.doctor import DoctorReport

QUOTE_MAX = 400

# ----------------------------------------------------------------------------- output


def _quote(statement: Mapping[str, Any] | None) -> str:
    if statement is None:
        return ""
    text = json.dumps(statement, separators=(",", ":"), sort_keys=False)
    return text if len(text) <= QUOTE_MAX else text[: QUOTE_MAX - 1] + "…"


def _fix(pair: Pair) -> str:
    dest = pair.destination
    return (
        f"fix: in {dest.account} run `aws ecr put-registry-policy --region {dest.region} "
        f"--policy-text file://policy.json` with a statement allowing "
        f'{{"AWS": "arn:{partition_of(dest.region)}:iam::{pair.source.account}:root"}} '
        f"{REPLICATE} and {CREATE}"
    )


def _at(location: Location, names: Mapping[str, str]) -> str:
    """`prod 222222222222/eu-west-1` where LOCATION_NAMES names it, as `status` shows it."""
    return place(location.as_dict(), names)


def render_text(report: DoctorReport, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    lines: list[str] = []
    for error in report.source_errors:
        lines.append(f"error: {error}")
    if not report.reports and not report.source_errors:
        lines.append("no replication pairs to check")
    for pair_report in report.reports:
        pair = pair_report.pair
        lines.append(
            f"{_at(pair.source, names)} -> {_at(pair.destination, names)} ({pair.scope}): "
            f"{pair_report.status}"
        )
        if pair_report.error:
            lines.append(f"  error: {pair_report.error}")
        for check in pair_report.checks:
            lines.append(f"  {check.action:<21} {check.verdict.reason}")
            if check.verdict.statement is not None:
                lines.append(f"  {'':<21} {_quote(check.verdict.statement)}")
        for note in pair_report.notes:
            lines.append(f"  note: {note}")
        if pair_report.ok is False and pair_report.checks:
            lines.append(f"  {_fix(pair)}")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    total = len(report.reports)
    good = sum(1 for r in report.reports if r.ok is True and not r.error)
    lines.append(f"{good} of {total} pairs can replicate" + ("" if report.ok else "; see above"))
    return "\n".join(lines)


def render_json(report: DoctorReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "errors": report.source_errors,
        "warnings": report.warnings,
        "pairs": [
            {
                "source": r.pair.source.as_dict(),
                "destination": r.pair.destination.as_dict(),
                "repositories": list(r.pair.prefixes) or None,
                "status": r.status,
                "can_replicate": r.ok if not r.error else None,
                "checks": [
                    {
                        "action": c.action,
                        "allowed": c.verdict.allowed,
                        "reason": c.verdict.reason,
                        "statement": c.verdict.statement,
                    }
                    for c in r.checks
                ],
                "notes": r.notes,
                "error": r.error,
            }
            for r in report.reports
        ],
    }
