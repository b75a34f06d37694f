"""doctor: does each destination's registry policy let its source account replicate there? And,
with workload discovery, where can a deletion or a missing replica hurt what runs?

ECR's cross-account replication needs, in the destination registry (per Region), a registry
permissions policy granting the source account `ecr:ReplicateImage`, and `ecr:CreateRepository`
unless the repositories already exist there. Nothing checks that before the first push fails;
this does, for every (source, destination) pair the rules name, through the audit role.

The policy evaluation is pure (evaluate); run_doctor asks the registries; render_* format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location
from chalicelib.core.policies import CREATE, REPLICATE, Pair, Verdict, evaluate, pairs
from chalicelib.core.rules import ReplicationConfig, parse_replication_config
from chalicelib.core.workload_risks import deletion_risks, lambda_without_replica
from chalicelib.core.workloads import Workload
from chalicelib.ports import WorkloadReader

# ----------------------------------------------------------------------------- the check


@dataclass
class Check:
    action: str
    verdict: Verdict


@dataclass
class PairReport:
    pair: Pair
    ok: bool | None  # None: cannot tell
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "ERROR"
        return {True: "OK", False: "CANNOT REPLICATE", None: "UNSURE"}[self.ok]


def check_pair(pair: Pair, registry: Callable[[Location], Any]) -> PairReport:
    """Ask the destination's registry policy (and, without CreateRepository, both registries'
    repositories) whether the source can replicate."""
    if pair.source.account == pair.destination.account:
        return PairReport(pair, True, notes=["same account: no registry policy is needed"])
    try:
        policy = registry(pair.destination).registry_policy()
    except (RegistryUnavailable, RepositoryNotFound) as error:
        return PairReport(pair, None, error=f"cannot read the registry policy: {error}")
    account = pair.source.account
    report = PairReport(pair, True)
    for action in (REPLICATE, CREATE):
        verdicts = [evaluate(policy, account, action, r) for r in pair.resources()]
        worst = min(verdicts, key=lambda v: {True: 2, None: 1, False: 0}[v.allowed])
        report.checks.append(Check(action, worst))
    replicate, create = report.checks[0].verdict, report.checks[1].verdict
    report.ok = replicate.allowed
    if replicate.allowed is not False and create.allowed is not True:
        # Without CreateRepository, replication only works into repositories that exist.
        missing, problem = _missing_repositories(pair, registry)
        if problem:
            report.error = problem
            report.ok = None
        elif missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            report.notes.append(
                f"without {CREATE}, these source repositories cannot replicate until they are "
                f"created in {pair.destination}: {shown}"
            )
            report.ok = False
        else:
            report.notes.append(
                f"without {CREATE}, every repository it replicates must exist in "
                f"{pair.destination} (all do today; new ones will not replicate until created)"
            )
    return report


def _missing_repositories(
    pair: Pair, registry: Callable[[Location], Any]
) -> tuple[list[str], str | None]:
    try:
        wanted = {r.name for r in registry(pair.source).repositories() if pair.covers(r.name)}
        there = {r.name for r in registry(pair.destination).repositories()}
    except (RegistryUnavailable, RepositoryNotFound) as error:
        return [], f"cannot list repositories: {error}"
    return sorted(wanted - there), None


@dataclass
class DoctorReport:
    reports: list[PairReport]
    source_errors: list[str]
    # what runs the images (workload discovery): risks that do not stop replication
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.source_errors and all(r.ok is True and not r.error for r in self.reports)


def workload_warnings(config: ReplicationConfig, workloads: WorkloadReader) -> list[str]:
    """What runs in every location the rules name, read live, against the rules: pinned digests
    under rules that replicate deletions, Lambda functions without a replica in their Region."""
    locations = {registry.location for registry in config.sources}
    locations |= {pair.destination for pair in pairs(config)}
    found: list[Workload] = []
    unread: list[str] = []
    for where in sorted(locations):
        reading = workloads.read(where)
        found += reading.workloads
        unread += [f"workloads not checked: {problem}" for problem in reading.problems.values()]
    return [*deletion_risks(config, found), *lambda_without_replica(config, found), *unread]


def run_doctor(
    static: ReplicationConfig,
    sources: Sequence[Location],
    registry: Callable[[Location], Any],
    workloads: WorkloadReader | None = None,
) -> DoctorReport:
    """Check every pair of REPLICATION_CONFIG and of REPLICATION_SOURCES (rules read live), and,
    with `workloads` (WORKLOAD_TYPES), what runs the images against the rules."""
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    for source in sources:
        try:
            item = registry(source).replication_rules()
            items.append({**item, "registryId": source.account, "region": source.region})
        except (RegistryUnavailable, RepositoryNotFound) as error:
            errors.append(f"cannot read the replication rules of {source}: {error}")
    config = ReplicationConfig(static.sources + parse_replication_config(items).sources)
    warnings = workload_warnings(config, workloads) if workloads is not None else []
    return DoctorReport([check_pair(p, registry) for p in pairs(config)], errors, warnings)
