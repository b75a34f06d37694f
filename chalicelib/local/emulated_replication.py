"""What moto lacks of ECR replication, for the emulator (chalicelib/local/emulator.py's serve()):
DescribeImageReplicationStatus on botocore 1.44.8's shapes, a replication configuration of up to
ten rules (moto refuses more than one), and an image's push time set to a simulated clock.

DescribeImageReplicationStatus, as the API reference documents it: for an image of the source
registry (by digest or tag; RepositoryNotFoundException, ImageNotFoundException otherwise), one
status per destination that the registry's replication rules send the repository to (a rule
applies to repositories matching any of its PREFIX_MATCH filters, or to every repository
without filters; a destination equal to the source is not one). The emulator's own rule for
the status, since it runs no replication: COMPLETE when the destination registry holds the
digest in that repository, IN_PROGRESS otherwise (FAILED and its failureCode are never
emulated: the events say when a replication failed).

PutReplicationConfiguration keeps the whole configuration, up to ECR's 10 rules and 25 unique
destinations (ValidationException beyond), a destination equal to the source refused as moto
refuses it; DescribeRegistry then returns it as given (`deleteReplication` included).

`POST /_emulator/ecr/image-pushed-at` with `{"registryId", "region", "repositoryName",
"imageDigest", "imagePushedAt": <epoch seconds>}` is the emulator's own: moto stamps an image
with the wall clock when it is put, the demo's registries follow a simulated day, and
`reconcile` shows "present since" from the registry's imagePushedAt.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.local.emulated_backfills import CREDENTIAL_RE, TARGET, EcrError

OPERATION = "DescribeImageReplicationStatus"
PUSHED_AT_PATH = "/_emulator/ecr/image-pushed-at"
MAX_RULES = 10
MAX_DESTINATIONS = 25


def _backends() -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends


def destinations(config: dict[str, Any], source: tuple[str, str], repository: str) -> list:
    """(account, region) of each destination the configuration sends `repository` to."""
    found: list[tuple[str, str]] = []
    for rule in config.get("rules", []):
        filters = rule.get("repositoryFilters") or []
        if filters and not any(repository.startswith(f.get("filter", "")) for f in filters):
            continue
        for destination in rule.get("destinations", []):
            where = (str(destination.get("registryId")), str(destination.get("region")))
            if where != source and where not in found:
                found.append(where)
    return found


def replication_status(account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to DescribeImageReplicationStatus in `account`/`region`."""
    backends = _backends()
    registry = body.get("registryId") or account
    repository_name = body.get("repositoryName")
    image_id = body.get("imageId")
    if not isinstance(repository_name, str) or not isinstance(image_id, dict) or not image_id:
        raise EcrError("InvalidParameterException", "repositoryName and imageId are required")
    source = backends[registry][region]
    repository = source.repositories.get(repository_name)
    if repository is None:
        raise EcrError(
            "RepositoryNotFoundException",
            f"The repository with name '{repository_name}' does not exist in the registry with "
            f"id '{registry}'",
        )
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    image = next(
        (
            i
            for i in repository.images
            if (digest is None or i.image_digest == digest) and (tag is None or tag in i.image_tags)
        ),
        None,
    )
    if image is None:
        raise EcrError(
            "ImageNotFoundException",
            f"The image with imageId {json.dumps(image_id)} does not exist within the "
            f"repository with name '{repository_name}' in the registry with id '{registry}'",
        )
    statuses = []
    for dest_account, dest_region in destinations(
        source.replication_config or {}, (registry, region), repository_name
    ):
        there = backends[dest_account][dest_region].repositories.get(repository_name)
        arrived = there is not None and any(
            i.image_digest == image.image_digest for i in there.images
        )
        statuses.append(
            {
                "region": dest_region,
                "registryId": dest_account,
                "status": "COMPLETE" if arrived else "IN_PROGRESS",
            }
        )
    answered_id = {"imageDigest": image.image_digest, **({"imageTag": tag} if tag else {})}
    return {
        "repositoryName": repository_name,
        "imageId": answered_id,
        "replicationStatuses": statuses,
    }


def set_pushed_at(body: dict[str, Any]) -> dict[str, Any]:
    """The emulator's own: an image's imagePushedAt, for a registry that follows a simulated
    day."""
    try:
        backend = _backends()[str(body["registryId"])][str(body["region"])]
        repository = backend.repositories[body["repositoryName"]]
        pushed_at = int(body["imagePushedAt"])
    except (KeyError, TypeError, ValueError):
        raise EcrError(
            "InvalidParameterException",
            "registryId, region, an existing repositoryName and imagePushedAt are required",
        ) from None
    images = [i for i in repository.images if i.image_digest == body.get("imageDigest")]
    if not images:
        raise EcrError("ImageNotFoundException", f"no image {body.get('imageDigest')}")
    for image in images:
        image.image_pushed_at = pushed_at
    return {}


def accept_whole_replication_configurations() -> None:
    """moto's PutReplicationConfiguration keeps one rule and refuses more ("This feature is
    disabled"); ECR keeps up to ten. Idempotent."""
    from moto.ecr.exceptions import InvalidParameterException
    from moto.ecr.models import ECRBackend

    if getattr(ECRBackend.put_replication_configuration, "_whole", False):
        return

    def put_replication_configuration(self: Any, replication_config: dict[str, Any]) -> Any:
        from moto.ecr.exceptions import ValidationException

        rules = replication_config.get("rules", [])
        if len(rules) > MAX_RULES:
            raise ValidationException(f"at most {MAX_RULES} replication rules are allowed")
        unique = set()
        for rule in rules:
            for dest in rule.get("destinations", []):
                if dest["region"] == self.region_name and dest["registryId"] == self.account_id:
                    raise InvalidParameterException(
                        "Invalid parameter at 'replicationConfiguration' failed to satisfy "
                        "constraint: 'Replication destination cannot be the same as the "
                        "source registry'"
                    )
                unique.add((dest["registryId"], dest["region"]))
        if len(unique) > MAX_DESTINATIONS:
            raise ValidationException(f"at most {MAX_DESTINATIONS} unique destinations")
        self.replication_config = replication_config
        return {"replicationConfiguration": replication_config}

    put_replication_configuration._whole = True  # type: ignore[attr-defined]
    ECRBackend.put_replication_configuration = put_replication_configuration  # type: ignore[method-assign]


def _error(code: str, message: str) -> dict[str, str]:
    return {"__type": code, "message": message}


def _respond(start_response: Any, status: int, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {'OK' if status == 200 else 'Error'}",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
    )
    return [data]


def wrap(app: Callable[..., Iterable[bytes]]) -> Callable:
    """`app` with DescribeImageReplicationStatus and the push-time extension answered here,
    everything else passed on."""
    accept_whole_replication_configurations()

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        asked = target == TARGET + OPERATION
        extension = environ.get("PATH_INFO") == PUSHED_AT_PATH
        if not asked and not extension:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        status, body = answer(environ.get("HTTP_AUTHORIZATION", ""), raw, extension)
        return _respond(start_response, status, body)

    return application


def answer(authorization: str, raw: bytes, extension: bool = False) -> tuple[int, Any]:
    """(HTTP status, JSON body) of one request, as ECR's JSON 1.1 protocol has them."""
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return 400, _error("SerializationException", "the request body is not a JSON object")
    try:
        if extension:
            return 200, set_pushed_at(body)
        match = CREDENTIAL_RE.search(authorization)
        if match is None:
            return 400, _error("MissingAuthenticationTokenException", "the request is not signed")
        from moto.iam.models import get_account_id_from

        access_key, region = match.groups()
        return 200, replication_status(get_account_id_from(access_key), region, body)
    except EcrError as error:
        return error.status, _error(error.code, str(error))
