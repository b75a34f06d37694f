"""Module-level Powertools logger and metrics, shared by every entry point."""

from __future__ import annotations

import logging
import threading

from aws_lambda_powertools import Logger, Metrics

SERVICE = "ecr-replication-auditor"
NAMESPACE = "EcrReplicationAuditor"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


_counting = threading.Lock()


def count(name: str, value: int = 1) -> None:
    """Add to a Count metric (nothing for zero). Locked: the sweep's lanes count from several
    threads, and Powertools' metric set is a plain dict that flushes itself at 100 values."""
    if value:
        with _counting:
            metrics.add_metric(name=name, unit="Count", value=value)


# Third-party loggers that print secrets at DEBUG: botocore logs every response body (a
# GetSecretValue answer carries the Slack webhook URL and the cursor key themselves), urllib3
# and slack_sdk log request URLs. POWERTOOLS_LOG_LEVEL only sets our logger, but Lambda's log
# level (AWS_LAMBDA_LOG_LEVEL), `chalice local` or a test harness may set the root logger to
# DEBUG: these levels are pinned so that no log setting can print a secret value.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "slack_sdk")
for _name in QUIET_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)


def replication_lag(destination: str, seconds: int) -> None:
    """`ReplicationLag` (Seconds, dimensions `service` and `destination` "account/region"):
    its own metric document, since the shared set has one set of dimensions per flush."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # single_metric prints even then
        return
    with single_metric(
        name="ReplicationLag",
        unit=MetricUnit.Seconds,
        value=seconds,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="destination", value=destination)
