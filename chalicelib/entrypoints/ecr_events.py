"""Inbound ECR events: JSON Schemas at the edge, turned into the core's facts.

The schemas follow AWS's names and the documented samples; unknown fields are ignored, and any
`algorithm:value` digest is accepted (AWS's own samples are not all 64 hex characters).

Why JSON Schema and not pydantic models: importing pydantic and building the models cost the
event handlers about 130 ms of every cold start (bench/: 1.46x the baseline, against a 1.3x
target). fastjsonschema, the validator Powertools' validation utility uses, compiles a schema to
a Python function in about 5 ms and imports in 6. Each schema is compiled once per process, on
first use (Powertools' `validate` compiles on every call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from chalicelib.core.errors import IgnoredEvent, InvalidEvent
from chalicelib.core.lifecycle import (
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
from chalicelib.entrypoints.event_envelope import (  # noqa: F401 (event_id_of, parse_schedule_time: API)
    MAX_EVENT_ID,
    event_id_of,
    parse_schedule_time,
)
from chalicelib.entrypoints.event_envelope import checked_time as _checked_time
from chalicelib.entrypoints.event_envelope import timestamp as _timestamp

# fastjsonschema searches with Python's `re`: the core's patterns are anchored with ^ and \Z.
_ACCOUNT = {"type": "string", "pattern": ACCOUNT_RE.pattern}
_REGION = {"type": "string", "pattern": REGION_RE.pattern}
_REPOSITORY = {"type": "string", "minLength": 2, "maxLength": 256, "pattern": REPOSITORY_RE.pattern}
_DIGEST = {"type": "string", "maxLength": 512, "pattern": DIGEST_RE.pattern}
# Untagged pushes carry "image-tag": "" (buildx children, attestations, signatures); the tag's
# grammar is checked after, so that "" can mean "no tag".
_TAG = {"type": ["string", "null"]}


def _envelope(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "source", "account", "region", "time", "detail-type", "detail"],
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_EVENT_ID,
                "pattern": r"^[\x21-\x7e]+\Z",
            },
            "source": {"const": "aws.ecr"},
            "account": _ACCOUNT,
            "region": _REGION,
            "time": {"type": "string"},  # parsed and bounded after (event_envelope)
            "detail-type": {"const": detail_type},
            "detail": detail,
        },
    }


def _detail(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


# An image action is read in two steps: what kind of action it is (a failed push or a
# storage-class change is ignored, whatever its image fields hold), then, for a PUSH or DELETE,
# its image.
IMAGE_ACTION = _envelope(
    "ECR Image Action",
    _detail(
        ["result", "action-type"], result={"type": "string"}, **{"action-type": {"type": "string"}}
    ),
)
IMAGE_ACTION_DETAIL = _detail(
    ["action-type", "repository-name", "image-digest"],
    **{
        "action-type": {"enum": ["PUSH", "DELETE"]},
        "repository-name": _REPOSITORY,
        "image-digest": _DIGEST,
        "image-tag": _TAG,
    },
)
REPLICATION_ACTION = _envelope(
    "ECR Replication Action",
    _detail(
        [
            "result",
            "action-type",
            "repository-name",
            "image-digest",
            "source-account",
            "source-region",
        ],
        result={"enum": ["SUCCESS", "FAILED"]},
        **{
            "action-type": {"const": "REPLICATE"},
            "repository-name": _REPOSITORY,
            "image-digest": _DIGEST,
            "image-tag": _TAG,
            "source-account": _ACCOUNT,
            "source-region": _REGION,
        },
    ),
)


@cache
def _validator(name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    schema = {
        "image action": IMAGE_ACTION,
        "image action detail": IMAGE_ACTION_DETAIL,
        "replication action": REPLICATION_ACTION,
    }[name]
    return fastjsonschema.compile(schema)  # type: ignore[no-any-return]


def _problem(error: Any, prefix: str) -> str:
    """One line naming the field and what is wrong with it (not the schema's regex)."""
    path = [str(part) for part in error.path[1:]]  # path[0] is fastjsonschema's "data"
    value, rule, definition = error.value, error.rule, error.rule_definition
    if rule == "required":
        missing = [key for key in definition if isinstance(value, dict) and key not in value]
        path, problem = [*path, *missing[:1]], "missing"
    elif rule == "pattern":
        problem = f"invalid value {str(value)[:80]!r}"
    elif rule == "maxLength":
        problem = f"longer than {definition} characters"
    elif rule == "const":
        problem = f"must be {definition!r}"
    elif rule == "type" and definition == "object":
        problem = "not a JSON object"
    else:  # "must be string", "must be one of [...]", "must be longer than ..."
        problem = error.message.removeprefix(error.name).strip()
    where = ".".join(part for part in (prefix, *path) if part) or "event"
    return f"{where}: {problem}"


def _validate(name: str, raw: Any, prefix: str = "") -> Any:
    import fastjsonschema

    if not isinstance(raw, dict):
        raise InvalidEvent(f"{prefix or 'event'}: not a JSON object")
    try:
        _validator(name)(raw)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidEvent(_problem(error, prefix)) from None
    return raw


def _time(raw: dict[str, Any], now: datetime) -> datetime:
    try:
        moment = _timestamp(raw["time"])
    except ValueError as error:
        raise InvalidEvent(f"time: {error}") from None
    return _checked_time(moment, now)


def parse_image_action(raw: Any, now: datetime) -> ImagePushed | ImageDeleted:
    """A PUSH or DELETE; IgnoredEvent for a failed push or a storage-class change, which
    neither add nor remove an image (an archived image is still there)."""
    event = _validate("image action", raw)
    time = _time(event, now)
    kind = event["detail"]
    if kind["result"] != "SUCCESS" or kind["action-type"] not in ("PUSH", "DELETE"):
        raise IgnoredEvent(
            f"{kind['action-type']} with result {kind['result']} is neither a push nor a deletion"
        )
    detail = _validate("image action detail", kind, "detail")
    fact_type = ImagePushed if detail["action-type"] == "PUSH" else ImageDeleted
    return fact_type(
        event_id=event["id"],
        time=time,
        location=Location(event["account"], event["region"]),
        repository=detail["repository-name"],
        digest=detail["image-digest"],
        tag=_tag(detail.get("image-tag")),
    )


def parse_replication_action(raw: Any, now: datetime) -> ReplicationReported:
    event = _validate("replication action", raw)
    time = _time(event, now)
    detail = event["detail"]
    failed = detail["result"] == "FAILED"
    return ReplicationReported(
        event_id=event["id"],
        time=time,
        location=Location(event["account"], event["region"]),
        source=Location(detail["source-account"], detail["source-region"]),
        repository=detail["repository-name"],
        digest=detail["image-digest"],
        tag=_tag(detail.get("image-tag")),
        succeeded=not failed,
        failure_reason=failure_reason(raw) if failed else None,
    )


def _tag(value: str | None) -> str | None:
    if value == "":  # an untagged push
        return None
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
