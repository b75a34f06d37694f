"""Inbound ECR events: pydantic models at the edge, turned into the core's facts.

Models follow AWS's names and the documented samples; unknown fields are ignored, and any
`algorithm:value` digest is accepted (AWS's own samples are not all 64 hex characters).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

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
from chalicelib.errors import IgnoredEvent, InvalidEvent
from chalicelib.event_envelope import (  # noqa: F401 (event_id_of, parse_schedule_time: API)
    MAX_EVENT_ID,
    event_id_of,
    parse_schedule_time,
)
from chalicelib.event_envelope import checked_time as _checked_time
from chalicelib.event_envelope import timestamp as _timestamp


def _no_empty_tag(value: Any) -> Any:
    # Untagged pushes carry "image-tag": "" (buildx children, attestations, signatures).
    return None if value == "" else value


EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_EVENT_ID, pattern=r"^[\x21-\x7e]+$")
]
EventTime = Annotated[datetime, BeforeValidator(_timestamp)]
Account = Annotated[str, StringConstraints(pattern=ACCOUNT_RE.pattern)]
Region = Annotated[str, StringConstraints(pattern=REGION_RE.pattern)]
Repository = Annotated[
    str, StringConstraints(min_length=2, max_length=256, pattern=REPOSITORY_RE.pattern)
]
Digest = Annotated[str, StringConstraints(max_length=512, pattern=DIGEST_RE.pattern)]
Tag = Annotated[str | None, BeforeValidator(_no_empty_tag)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ImageActionResult(_Model):
    """What kind of image action an event reports, before its image is validated."""

    result: str
    action_type: str = Field(alias="action-type")


class ImageActionDetail(_Model):
    action_type: Literal["PUSH", "DELETE"] = Field(alias="action-type")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag = Field(default=None, alias="image-tag")


class ReplicationActionDetail(_Model):
    result: Literal["SUCCESS", "FAILED"]
    action_type: Literal["REPLICATE"] = Field(alias="action-type")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag = Field(default=None, alias="image-tag")
    source_account: Account = Field(alias="source-account")
    source_region: Region = Field(alias="source-region")


class _Envelope(_Model):
    id: EventId
    source: Literal["aws.ecr"]
    account: Account
    region: Region
    time: EventTime


class EcrImageAction(_Envelope):
    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")
    detail: ImageActionResult


class EcrReplicationAction(_Envelope):
    detail_type: Literal["ECR Replication Action"] = Field(alias="detail-type")
    detail: ReplicationActionDetail


def _problem(error: ValidationError, prefix: str = "") -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in (prefix, *item["loc"]) if p) or "event"
        message = item["msg"]
        if item["type"] == "string_pattern_mismatch":  # the regex itself helps nobody
            message = f"invalid value {str(item['input'])[:80]!r}"
        elif item["type"] == "string_too_long":
            message = f"longer than {item.get('ctx', {}).get('max_length', 'allowed')} characters"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _validate(model: type[_Model], raw: Any, prefix: str = "") -> Any:
    if not isinstance(raw, dict):
        raise InvalidEvent(f"{prefix or 'event'}: not a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise InvalidEvent(_problem(error, prefix)) from None


def parse_image_action(raw: Any, now: datetime) -> ImagePushed | ImageDeleted:
    """A PUSH or DELETE; IgnoredEvent for a failed push or a storage-class change, which
    neither add nor remove an image (an archived image is still there)."""
    event = _validate(EcrImageAction, raw)
    time = _checked_time(event.time, now)
    kind = event.detail
    if kind.result != "SUCCESS" or kind.action_type not in ("PUSH", "DELETE"):
        raise IgnoredEvent(
            f"{kind.action_type} with result {kind.result} is neither a push nor a deletion"
        )
    detail = _validate(ImageActionDetail, raw["detail"], "detail")
    fact_type = ImagePushed if detail.action_type == "PUSH" else ImageDeleted
    return fact_type(
        event_id=event.id,
        time=time,
        location=Location(event.account, event.region),
        repository=detail.repository_name,
        digest=detail.image_digest,
        tag=_tag(detail.image_tag),
    )


def parse_replication_action(raw: Any, now: datetime) -> ReplicationReported:
    event = _validate(EcrReplicationAction, raw)
    time = _checked_time(event.time, now)
    detail = event.detail
    return ReplicationReported(
        event_id=event.id,
        time=time,
        location=Location(event.account, event.region),
        source=Location(detail.source_account, detail.source_region),
        repository=detail.repository_name,
        digest=detail.image_digest,
        tag=_tag(detail.image_tag),
        succeeded=detail.result == "SUCCESS",
        failure_reason=failure_reason(raw) if detail.result == "FAILED" else None,
    )


def _tag(value: str | None) -> str | None:
    if value is not None and not TAG_RE.match(value):
        raise InvalidEvent(f"detail.image-tag: invalid value {value[:80]!r}")
    return value


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
