"""EcrBackfills: one source registry's replication backfills (StartReplicationBackfill,
ListReplicationBackfills, DescribeReplicationBackfillResults; ECR, October 2026, botocore
1.43.119 and later), translated into chalicelib/usecases/backfill.py's values and exceptions.

Command-line only (`reconcile --backfill`, `--backfill-status`), hence here: the functions never
start a backfill, and the audit role they assume stays read-only. moto has none of these
operations: tests/integration/test_backfill.py drives this adapter
through botocore's Stubber on the shapes of botocore's own service model, and the emulator
answers them itself (chalicelib/local/emulated_backfills.py) for the command-line tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.ecr import error_code as _code
from chalicelib.adapters.roles import sdk_failure
from chalicelib.core.errors import RegistryUnavailable
from chalicelib.core.lifecycle import Location
from chalicelib.usecases.backfill import (
    Backfill,
    BackfillInProgress,
    BackfillLimit,
    BackfillResult,
)

LIST_PAGE = 50  # ListReplicationBackfills maxResults limit
RESULTS_PAGE = 1000  # DescribeReplicationBackfillResults maxResults limit


class EcrBackfills:
    def __init__(self, client: Any, location: Location) -> None:
        self._client = client
        self.location = location
        self.calls = 0

    @contextmanager
    def _asking(self) -> Iterator[None]:
        self.calls += 1
        try:
            yield
        except Exception as error:
            code = _code(error)
            if code == "ReplicationBackfillInProgressException":
                raise BackfillInProgress(str(error)) from None
            if code == "LimitExceededException":
                raise BackfillLimit(str(error)) from None
            failure = sdk_failure(error)
            if failure is None:
                if not code:
                    raise  # not an SDK error: a bug, let it surface
                message = getattr(error, "response", {}).get("Error", {}).get("Message", "")
                failure = code, str(message)
            where = self.location.account, self.location.region
            raise RegistryUnavailable(*where, *failure) from None

    def start(self, destination: Location) -> Backfill:
        with self._asking():
            response = self._client.start_replication_backfill(
                registryId=self.location.account,
                destination={"region": destination.region, "registryId": destination.account},
            )
        return self._backfill(response)

    def backfills(self) -> list[Backfill]:
        found: list[Backfill] = []
        token: str | None = None
        while True:
            with self._asking():
                page = self._client.list_replication_backfills(
                    registryId=self.location.account,
                    maxResults=LIST_PAGE,
                    **({"nextToken": token} if token else {}),
                )
            found.extend(self._backfill(b) for b in page.get("backfills", []))
            token = page.get("nextToken")
            if not token:
                return found

    def results(self, backfill_id: str) -> list[BackfillResult]:
        found: list[BackfillResult] = []
        token: str | None = None
        while True:
            with self._asking():
                page = self._client.describe_replication_backfill_results(
                    registryId=self.location.account,
                    replicationBackfillId=backfill_id,
                    maxResults=RESULTS_PAGE,
                    **({"nextToken": token} if token else {}),
                )
            for result in page.get("results", []):
                image = result.get("imageId") or {}
                found.append(
                    BackfillResult(
                        repository=str(result.get("repositoryName", "")),
                        digest=image.get("imageDigest") or None,
                        tag=image.get("imageTag") or None,
                        status=str(result.get("status", "")),
                        failure_code=result.get("failureCode") or None,
                        sub_image_failure_codes=tuple(result.get("subImageFailureCodes") or ()),
                    )
                )
            token = page.get("nextToken")
            if not token:
                return found

    def _backfill(self, raw: dict[str, Any]) -> Backfill:
        destination = raw.get("destination") or {}
        progress = raw.get("progress")
        return Backfill(
            backfill_id=str(raw.get("replicationBackfillId", "")),
            source=self.location,
            destination=Location(
                str(destination.get("registryId", "")), str(destination.get("region", ""))
            ),
            status=str(raw.get("status", "")),
            started_at=_time(raw.get("startedAt")),
            ended_at=_time(raw.get("endedAt")),
            total=progress.get("totalReplicationCount") if progress else None,
            completed=progress.get("completedReplicationCount") if progress else None,
            failed=progress.get("failedReplicationCount") if progress else None,
            failure_codes=tuple(progress.get("failureCodes") or ()) if progress else (),
            failure_code=raw.get("failureCode") or None,
        )


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)
