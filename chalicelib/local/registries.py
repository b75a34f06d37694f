"""The demo's registries: ECR in each simulated account (moto), kept as the events say ECR left
them, so that the sweep's registry checks (AUDIT_ROLE_NAME) see what a real registry would show.

An IMMUTABLE destination repository keeps its own tag when a replica arrives ("the image is
replicated but won't contain the duplicated tag"): that is how the demo shows TAG_DRIFT.

The set-up is the cross-account one ECR documents: each source registry's replication rules,
and in each destination registry a permissions policy letting the source account replicate
(`doctor` checks both). Each image carries the time of the simulated event that put it there
(imagePushedAt), not the emulator's clock, so `reconcile` speaks the demo's time.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterable
from datetime import datetime
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

    def set_up(self, replication_config: Iterable[dict[str, Any]]) -> None:
        """Each source's replication rules in its registry, and in each destination a registry
        policy allowing every source that replicates there (ReplicateImage, CreateRepository)."""
        from chalicelib.core.lifecycle import partition_of

        sources_of: dict[Where, set[str]] = {}
        for registry in replication_config:
            source = (registry["registryId"], registry["region"])
            rules = registry["replicationConfiguration"]
            self._ecr(source).put_replication_configuration(replicationConfiguration=rules)
            for rule in rules["rules"]:
                for destination in rule["destinations"]:
                    where = (destination["registryId"], destination["region"])
                    sources_of.setdefault(where, set()).add(source[0])
        for (account, region), accounts in sorted(sources_of.items()):
            partition = partition_of(region)
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReplicationAccessCrossAccount",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [f"arn:{partition}:iam::{a}:root" for a in sorted(accounts)]
                        },
                        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                        "Resource": f"arn:{partition}:ecr:{region}:{account}:repository/*",
                    }
                ],
            }
            self._ecr((account, region)).put_registry_policy(policyText=json.dumps(policy))

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

    def put(
        self, where: Where, repository: str, digest: str, tag: str | None, at: datetime
    ) -> None:
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
            if "AlreadyExists" not in type(error).__name__ + str(error):
                raise
            if tag and not self._holds(ecr, repository, digest):
                # An immutable tag kept its image (moto says ImageAlreadyExists, ECR
                # ImageTagAlreadyExists): the replica arrives without the tag.
                self._put_untagged(ecr, params)
        self._pushed_at(where, repository, digest, at)

    @staticmethod
    def _pushed_at(where: Where, repository: str, digest: str, at: datetime) -> None:
        """The emulator's own extension (local/emulated_replication.py): imagePushedAt = `at`."""
        from chalicelib.local.emulated_replication import PUSHED_AT_PATH

        body = {
            "registryId": where[0],
            "region": where[1],
            "repositoryName": repository,
            "imageDigest": digest,
            "imagePushedAt": int(at.timestamp()),
        }
        request = urllib.request.Request(
            os.environ["AWS_ENDPOINT_URL"] + PUSHED_AT_PATH,
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310: the emulator
            response.read()

    @staticmethod
    def _holds(ecr: Any, repository: str, digest: str) -> bool:
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
        except Exception as error:
            if "ImageNotFound" in type(error).__name__ + str(error):
                return False
            raise
        return True

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
        at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        if event["detail-type"] == "ECR Image Action" and detail["action-type"] == "PUSH":
            self.put(where, repository, digest, tag, at)
        elif event["detail-type"] == "ECR Image Action" and detail["action-type"] == "DELETE":
            self.delete(where, repository, digest, tag)
        elif event["detail-type"] == "ECR Replication Action" and detail["result"] == "SUCCESS":
            self.put(where, repository, digest, tag, at)
