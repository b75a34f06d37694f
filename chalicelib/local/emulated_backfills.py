"""ECR's replication backfill API for the emulator (moto has none): StartReplicationBackfill,
ListReplicationBackfills and DescribeReplicationBackfillResults on botocore 1.44.8's shapes,
answered in front of moto by chalicelib/local/emulator.py's serve(), state in memory.

What it does, as the API reference documents it:
- a backfill replicates the source registry's existing images that its replication
  configuration (moto's, put with put_replication_configuration) sends to ONE destination; the
  destination must be in that configuration (ValidationException otherwise);
- one backfill in progress (PREPARING, IN_PROGRESS) per destination Region of a registry
  (ReplicationBackfillInProgressException), ten per registry (LimitExceededException);
- progress is null while PREPARING; each image and tag combination is one replication and one
  per-image result, COMPLETE or FAILED; results only once the backfill is terminal.

How it progresses (the emulator's own rule, deterministic so that tests need no clock): a
backfill starts PREPARING, and every ListReplicationBackfills or
DescribeReplicationBackfillResults that returns it first moves it one step: to IN_PROGRESS
(the set of images is fixed, progress 0 of N), then to COMPLETE (the images are put into the
destination's moto registry, its repositories created as needed, and the results kept).
A tag held by another digest in an IMMUTABLE destination repository fails that replication
with IMAGE_TAG_IMMUTABLE: ECR does not document its failure codes, this one is the emulator's.
Not emulated: StopReplicationBackfill, registry policies (every destination accepts), the
90-day retention, the caller's permissions (moto enforces no IAM).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TARGET = "AmazonEC2ContainerRegistry_V20150921."
OPERATIONS = (
    "StartReplicationBackfill",
    "ListReplicationBackfills",
    "DescribeReplicationBackfillResults",
)
ACTIVE = ("PREPARING", "IN_PROGRESS")
PER_REGISTRY = 10  # backfills in progress at once
IMMUTABLE_CODE = "IMAGE_TAG_IMMUTABLE"
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")


class EcrError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class Replication:
    repository: str
    digest: str
    tag: str | None
    manifest: str
    media_type: str | None
    status: str | None = None  # COMPLETE or FAILED once done
    failure_code: str | None = None


@dataclass
class Backfill:
    backfill_id: str
    account: str
    region: str
    destination: dict[str, str]
    started_at: float
    status: str = "PREPARING"
    ended_at: float | None = None
    replications: list[Replication] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "replicationBackfillId": self.backfill_id,
            "destination": dict(self.destination),
            "status": self.status,
            "startedAt": self.started_at,
        }
        if self.status != "PREPARING":
            failed = [r for r in self.replications if r.status == "FAILED"]
            body["progress"] = {
                "totalReplicationCount": len(self.replications),
                "completedReplicationCount": sum(
                    1 for r in self.replications if r.status == "COMPLETE"
                ),
                "failedReplicationCount": len(failed),
                "failureCodes": sorted({str(r.failure_code) for r in failed}),
            }
        if self.ended_at is not None:
            body["endedAt"] = self.ended_at
        return body


class Backfills:
    """Every registry's backfills, in the emulator's memory; moto's ECR backends for images."""

    def __init__(self, backends: Any = None, clock: Callable[[], float] | None = None) -> None:
        if backends is None:
            from moto.ecr.models import ecr_backends as backends
        self._backends = backends
        self._clock = clock or (lambda: datetime.now(UTC).timestamp())
        self._by_registry: dict[tuple[str, str], list[Backfill]] = {}

    # ------------------------------------------------------------------ operations

    def start(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        registry = _registry(body, account)
        destination = body.get("destination")
        if not isinstance(destination, dict) or not {"region", "registryId"} <= set(destination):
            raise EcrError("InvalidParameterException", "destination needs region and registryId")
        destination = {
            "region": str(destination["region"]),
            "registryId": destination["registryId"],
        }
        rules = self._rules_to(registry, region, destination)
        if not rules:
            raise EcrError(
                "ValidationException",
                f"destination {destination['registryId']}/{destination['region']} is not in the "
                "registry's replication configuration",
            )
        active = [b for b in self._by_registry.get((registry, region), []) if b.status in ACTIVE]
        if any(b.destination["region"] == destination["region"] for b in active):
            raise EcrError(
                "ReplicationBackfillInProgressException",
                f"a replication backfill to {destination['region']} is already in progress",
            )
        if len(active) >= PER_REGISTRY:
            raise EcrError(
                "LimitExceededException",
                f"the registry has {PER_REGISTRY} replication backfills in progress",
            )
        backfill = Backfill(str(uuid.uuid4()), registry, region, destination, self._clock())
        self._by_registry.setdefault((registry, region), []).append(backfill)
        return {
            "replicationBackfillId": backfill.backfill_id,
            "registryId": registry,
            "destination": dict(destination),
            "status": backfill.status,
            "startedAt": backfill.started_at,
        }

    def list_backfills(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        registry = _registry(body, account)
        found = self._by_registry.get((registry, region), [])
        page, token = _page(found, body, default=25, largest=50)
        for backfill in page:
            self._step(backfill)
        answer: dict[str, Any] = {"registryId": registry, "backfills": [b.summary() for b in page]}
        return {**answer, **({"nextToken": token} if token else {})}

    def describe(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        registry = _registry(body, account)
        wanted = body.get("replicationBackfillId")
        backfill = next(
            (b for b in self._by_registry.get((registry, region), []) if b.backfill_id == wanted),
            None,
        )
        if backfill is None:
            raise EcrError(
                "ReplicationBackfillNotFoundException",
                f"no replication backfill {wanted} in registry {registry} in {region}",
            )
        status = body.get("resultStatusFilter")
        if status not in (None, "COMPLETE", "FAILED"):
            raise EcrError("InvalidParameterException", "resultStatusFilter is COMPLETE or FAILED")
        self._step(backfill)
        answer = {"registryId": registry, **backfill.summary()}
        if backfill.ended_at is None:
            return answer  # per-image results only once it has ended
        results = [r for r in backfill.replications if status in (None, r.status)]
        page, token = _page(results, body, default=100, largest=1000)
        answer["results"] = [_result(r) for r in page]
        return {**answer, **({"nextToken": token} if token else {})}

    # ------------------------------------------------------------------ progress

    def _step(self, backfill: Backfill) -> None:
        if backfill.status == "PREPARING":
            backfill.replications = self._plan(backfill)
            backfill.status = "IN_PROGRESS"
        elif backfill.status == "IN_PROGRESS":
            for replication in backfill.replications:
                self._replicate(backfill, replication)
            backfill.status = "COMPLETE"
            backfill.ended_at = self._clock()

    def _plan(self, backfill: Backfill) -> list[Replication]:
        source = self._backends[backfill.account][backfill.region]
        rules = self._rules_to(backfill.account, backfill.region, backfill.destination)
        planned: list[Replication] = []
        for name in sorted(source.repositories):
            if not any(_matches(rule, name) for rule in rules):
                continue
            for image in source.repositories[name].images:
                media_type = image.image_manifest_media_type
                for tag in list(image.image_tags) or [None]:
                    planned.append(
                        Replication(name, image.image_digest, tag, image.image_manifest, media_type)
                    )
        return planned

    def _replicate(self, backfill: Backfill, replication: Replication) -> None:
        target = self._backends[backfill.destination["registryId"]][backfill.destination["region"]]
        if replication.repository not in target.repositories:
            target.create_repository(replication.repository, None, {}, {}, "MUTABLE", [])
        repository = target.repositories[replication.repository]
        same = [i for i in repository.images if i.image_digest == replication.digest]
        holder = next((i for i in repository.images if replication.tag in i.image_tags), None)
        replication.status = "COMPLETE"
        if replication.tag is None:
            if not same:  # untagged: moto's put_image wants a tag
                repository.images.append(_untagged(target, replication))
        elif holder is not None and holder.image_digest == replication.digest:
            pass  # that tag names that image there already
        elif holder is not None and repository.is_tag_immutable():
            replication.status, replication.failure_code = "FAILED", IMMUTABLE_CODE
        else:
            target.put_image(
                replication.repository,
                replication.manifest,
                replication.tag,
                replication.media_type,
                replication.digest,
            )

    def _rules_to(self, account: str, region: str, destination: dict[str, str]) -> list[dict]:
        config = self._backends[account][region].replication_config or {}
        return [
            rule
            for rule in config.get("rules", [])
            if any(
                d.get("region") == destination["region"]
                and d.get("registryId") == destination["registryId"]
                for d in rule.get("destinations", [])
            )
        ]


# ---------------------------------------------------------------------------- helpers


def _registry(body: dict[str, Any], account: str) -> str:
    registry = body.get("registryId") or account
    if not isinstance(registry, str) or not ACCOUNT_RE.match(registry):
        raise EcrError("InvalidParameterException", "registryId must be 12 digits")
    return registry


def _matches(rule: dict[str, Any], repository: str) -> bool:
    filters = rule.get("repositoryFilters") or []
    return not filters or any(
        repository.startswith(f.get("filter", "")) for f in filters
    )  # PREFIX_MATCH is ECR's only filter type


def _page(items: list[Any], body: dict[str, Any], default: int, largest: int) -> tuple[list, str]:
    size = body.get("maxResults", default)
    if not isinstance(size, int) or not 1 <= size <= largest:
        raise EcrError("InvalidParameterException", f"maxResults must be 1 to {largest}")
    token = body.get("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise EcrError("InvalidParameterException", "nextToken is not one this API gave") from None
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""


def _result(replication: Replication) -> dict[str, Any]:
    image = {"imageDigest": replication.digest}
    if replication.tag:
        image["imageTag"] = replication.tag
    result: dict[str, Any] = {
        "repositoryName": replication.repository,
        "imageId": image,
        "status": replication.status,
    }
    if replication.failure_code:
        result["failureCode"] = replication.failure_code
    return result


def _untagged(target: Any, replication: Replication) -> Any:
    from moto.ecr.models import Image

    return Image(
        target.account_id,
        None,  # type: ignore[arg-type]  # moto's Image takes no tag as None
        replication.manifest,
        replication.repository,
        replication.media_type,
        replication.digest,
    )


# ---------------------------------------------------------------------------- WSGI


def wrap(app: Callable[..., Iterable[bytes]], backfills: Backfills | None = None) -> Callable:
    """`app` with the three operations answered here, everything else passed on to moto."""
    state: list[Backfills] = [backfills] if backfills else []

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(TARGET) :] if target.startswith(TARGET) else ""
        if operation not in OPERATIONS:
            return app(environ, start_response)
        if not state:
            state.append(Backfills())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        status, body = answer(state[0], operation, environ.get("HTTP_AUTHORIZATION", ""), raw)
        data = json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return application


def answer(backfills: Backfills, operation: str, authorization: str, raw: bytes) -> tuple[int, Any]:
    """(HTTP status, JSON body) of one request, as ECR's JSON 1.1 protocol has them."""
    from moto.iam.models import get_account_id_from

    match = CREDENTIAL_RE.search(authorization)
    if match is None:
        return 400, _error("MissingAuthenticationTokenException", "the request is not signed")
    access_key, region = match.groups()
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return 400, _error("SerializationException", "the request body is not a JSON object")
    handler = {
        "StartReplicationBackfill": backfills.start,
        "ListReplicationBackfills": backfills.list_backfills,
        "DescribeReplicationBackfillResults": backfills.describe,
    }[operation]
    try:
        return 200, handler(get_account_id_from(access_key), region, body)
    except EcrError as error:
        return error.status, _error(error.code, str(error))


def _error(code: str, message: str) -> dict[str, str]:
    return {"__type": code, "message": message}
