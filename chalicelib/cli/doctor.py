"""`doctor`: does each destination's registry policy let its source replicate?"""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib.cli.common import Commands, load_env_file


def run(args: argparse.Namespace) -> int:
    load_env_file(args.env_file)
    from chalicelib.core.errors import ConfigError
    from chalicelib.settings import Settings

    try:
        settings = Settings.from_env(ledger=False)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not settings.audit_role_name:
        print(
            "error: doctor asks the registries through the audit role: set AUDIT_ROLE_NAME "
            "(the role infra/forwarder.json creates in every monitored account)",
            file=sys.stderr,
        )
        return 2
    if not settings.replication.sources and not settings.replication_sources:
        print(
            "error: no replication rules to check: set REPLICATION_CONFIG or REPLICATION_SOURCES",
            file=sys.stderr,
        )
        return 2
    from chalicelib.adapters.ecr import registry_for
    from chalicelib.adapters.roles import AuditRoles
    from chalicelib.cli import doctor_text
    from chalicelib.usecases import doctor

    roles = AuditRoles(settings.audit_role_name)
    workloads = None
    if settings.workload_types:
        from chalicelib.adapters.workloads import AuditedWorkloads

        workloads = AuditedWorkloads(roles, settings.workload_types)
    report = doctor.run_doctor(
        settings.replication,
        settings.replication_sources,
        lambda location: registry_for(roles, location),
        workloads,
    )
    if args.json:
        print(json.dumps(doctor_text.render_json(report), indent=2))
    else:
        print(doctor_text.render_text(report, settings.location_names))
    return 0 if report.ok else 1


def register(commands: Commands) -> None:
    doc = commands.add(
        "doctor",
        "check that each destination's registry policy lets its source replicate",
        "For each source and destination the replication rules name (REPLICATION_CONFIG, and\n"
        "REPLICATION_SOURCES read live with DescribeRegistry), reads the destination's registry\n"
        "policy through AUDIT_ROLE_NAME and says whether it lets the source account replicate\n"
        "(ecr:ReplicateImage, and ecr:CreateRepository unless the repositories exist there).\n"
        "With WORKLOAD_TYPES (on by default with AUDIT_ROLE_NAME) it also warns where a rule\n"
        "replicates deletions into a destination whose ECS services or Lambda functions pin\n"
        "digests of that repository, and where a Lambda function's Region has no replica of\n"
        "its repository; warnings do not change the exit code.\n"
        "Exit 0 when every pair can, 1 when one cannot or cannot be checked, 2 on bad usage.\n\n"
        "example:\n  AUDIT_ROLE_NAME=ecr-replication-auditor-read python -m chalicelib.cli doctor",
    )
    doc.add_argument("--json", action="store_true", help="print the JSON report")
    doc.add_argument("--env-file", metavar="F", help="JSON object of environment variables")
    doc.set_defaults(func=run)
