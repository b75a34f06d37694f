"""The demo's registries: ECR in each simulated account (moto), kept as the events say ECR left
them, so that the sweep's registry checks (AUDIT_ROLE_NAME) see what a real registry would show.

An IMMUTABLE destination repository keeps its own tag when a replica arrives ("the image is
replicated but won't contain the duplicated tag"): that is how the demo shows TAG_DRIFT.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

ROLE = "ecr-replication-auditor-read"
Where = tuple[str, str]


def manifest(digest: str) -> str:
    """A distinct manifest per digest (moto keys images by the digest it is given)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest,
                "size": 1,
            },
            "layers": [],
        }
    )


class RegistryMirror:
    """Applies ECR events to the emulator's registries, best effort (it is a simulation)."""

    def __init__(self, session: Any, immutable: Iterable[tuple[Where, str]] = ()) -> None:
        from chalicelib.adapters.roles import AuditRoles

        self._roles = AuditRoles(ROLE, session=session)
        self._immutable = set(immutable)
        self._repositories: set[tuple[Where, str]] = set()

    def _ecr(self, where: Where) -> Any:
        return self._roles.client("ecr", where[0], where[1])

    def _repository(self, where: Where, repository: str) -> None:
        if (where, repository) in self._repositories:
            return
        mutability = "IMMUTABLE" if (where, repository) in self._immutable else "MUTABLE"
        try:
            self._ecr(where).create_repository(
                repositoryName=repository, imageTagMutability=mutability
            )
        except Exception as error:
            if "RepositoryAlreadyExists" not in type(error).__name__ + str(error):
                raise
        self._repositories.add((where, repository))

    def put(self, where: Where, repository: str, digest: str, tag: str | None) -> None:
        self._repository(where, repository)
        ecr = self._ecr(where)
        params = {
            "repositoryName": repository,
            "imageManifest": manifest(digest),
            "imageDigest": digest,
        }
        try:
            ecr.put_image(**params, **({"imageTag": tag} if tag else {}))
        except Exception as error:
            text = type(error).__name__ + str(error)
            if "ImageTagAlreadyExists" in text:  # an immutable tag: the image arrives untagged
                self._put_untagged(ecr, params)
            elif "ImageAlreadyExists" not in text:
                raise

    @staticmethod
    def _put_untagged(ecr: Any, params: dict[str, Any]) -> None:
        try:
            ecr.put_image(**params)
        except Exception as error:
            if "ImageAlreadyExists" not in type(error).__name__ + str(error):
                raise

    def delete(self, where: Where, repository: str, digest: str, tag: str | None) -> None:
        self._repository(where, repository)
        image = {"imageTag": tag} if tag else {"imageDigest": digest}
        self._ecr(where).batch_delete_image(repositoryName=repository, imageIds=[image])

    def apply(self, event: dict[str, Any]) -> None:
        """What ECR did, given the event it emitted."""
        if event.get("source") != "aws.ecr":
            return
        detail = event["detail"]
        where = (event["account"], event["region"])
        repository, digest = detail["repository-name"], detail["image-digest"]
        tag = detail.get("image-tag") or None
        if event["detail-type"] == "ECR Image Action" and detail["action-type"] == "PUSH":
            self.put(where, repository, digest, tag)
        elif event["detail-type"] == "ECR Image Action" and detail["action-type"] == "DELETE":
            self.delete(where, repository, digest, tag)
        elif event["detail-type"] == "ECR Replication Action" and detail["result"] == "SUCCESS":
            self.put(where, repository, digest, tag)
