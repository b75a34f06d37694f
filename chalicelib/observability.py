"""Module-level Powertools logger and metrics, shared by every entry point."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "ecr-replication-auditor"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="EcrReplicationAuditor", service=SERVICE)


def count(name: str, value: int = 1) -> None:
    """Add to a Count metric (nothing for zero)."""
    if value:
        metrics.add_metric(name=name, unit="Count", value=value)
