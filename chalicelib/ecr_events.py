"""Inbound ECR events: pydantic models at the edge, turned into the core's facts.

Models follow AWS's names and the documented samples; unknown fields are ignored, and any
`algorithm:value` digest is accepted (AWS's own samples are not all 64 hex characters).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chalicelib.domain import (
    ACCOUNT_RE,
    DIGEST_RE,
    REGION_RE,
    REPOSITORY_RE,
    TAG_RE,
    ImageDeleted,
    ImagePushed,
    Location,
    ReplicationReported,
)
from chalicelib.errors import InvalidEvent

Account = Annotated[str, StringConstraints(pattern=ACCOUNT_RE.pattern)]
Region = Annotated[str, StringConstraints(pattern=REGION_RE.pattern)]
Repository = Annotated[
    str, StringConstraints(min_length=2, max_length=256, pattern=REPOSITORY_RE.pattern)
]
Digest = Annotated[str, StringConstraints(max_length=512, pattern=DIGEST_RE.pattern)]
Tag = Annotated[str, StringConstraints(pattern=TAG_RE.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ImageActionDetail(_Model):
    result: Literal["SUCCESS"]
    action_type: Literal["PUSH", "DELETE"] = Field(alias="action-type")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag | None = Field(default=None, alias="image-tag")


class ReplicationActionDetail(_Model):
    result: Literal["SUCCESS", "FAILED"]
    action_type: Literal["REPLICATE"] = Field(alias="action-type")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag | None = Field(default=None, alias="image-tag")
    source_account: Account = Field(alias="source-account")
    source_region: Region = Field(alias="source-region")


class _Envelope(_Model):
    id: str = Field(min_length=1)
    source: Literal["aws.ecr"]
    account: Account
    region: Region
    time: datetime


class EcrImageAction(_Envelope):
    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")
    detail: ImageActionDetail


class EcrReplicationAction(_Envelope):
    detail_type: Literal["ECR Replication Action"] = Field(alias="detail-type")
    detail: ReplicationActionDetail


def _problem(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "event"
        message = item["msg"]
        if item["type"] == "string_pattern_mismatch":  # the regex itself helps nobody
            message = f"invalid value {str(item['input'])[:80]!r}"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def event_id_of(raw: Any) -> str:
    return str(raw.get("id", "<no id>")) if isinstance(raw, dict) else "<not an object>"


def parse_image_action(raw: dict[str, Any]) -> ImagePushed | ImageDeleted:
    try:
        event = EcrImageAction.model_validate(raw)
    except ValidationError as error:
        raise InvalidEvent(_problem(error)) from None
    detail = event.detail
    fact_type = ImagePushed if detail.action_type == "PUSH" else ImageDeleted
    return fact_type(
        event_id=event.id,
        time=_utc(event.time),
        location=Location(event.account, event.region),
        repository=detail.repository_name,
        digest=detail.image_digest,
        tag=detail.image_tag,
    )


def parse_replication_action(raw: dict[str, Any]) -> ReplicationReported:
    try:
        event = EcrReplicationAction.model_validate(raw)
    except ValidationError as error:
        raise InvalidEvent(_problem(error)) from None
    detail = event.detail
    return ReplicationReported(
        event_id=event.id,
        time=_utc(event.time),
        location=Location(event.account, event.region),
        source=Location(detail.source_account, detail.source_region),
        repository=detail.repository_name,
        digest=detail.image_digest,
        tag=detail.image_tag,
        succeeded=detail.result == "SUCCESS",
        failure_reason=failure_reason(raw) if detail.result == "FAILED" else None,
    )


def failure_reason(raw: dict[str, Any]) -> str | None:
    """ECR says FAILED events 'may include additional error information'; keep what is there."""
    detail = raw.get("detail") or {}
    found = [
        f"{key}={value}"
        for key, value in sorted(detail.items())
        if any(word in key.lower() for word in ("reason", "error", "failure", "message"))
        and isinstance(value, str | int)
    ]
    return "; ".join(found)[:500] or None


def parse_schedule_time(raw: dict[str, Any]) -> datetime:
    """The sweep's `now` is its own event's time, so a replayed schedule audits as of then."""
    try:
        moment = datetime.fromisoformat(str(raw["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as error:
        raise InvalidEvent(f"time: not an ISO-8601 timestamp ({error})") from None
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
