"""EcrRegistry: the auditor's read-only questions to one ECR registry (one account and Region).

It takes its client in the constructor (built by AuditRoles for the audit role in that account),
translates ECR's answers into plain values and maps SDK errors to the project's exceptions:
RepositoryNotFound for a repository that is not there, RegistryUnavailable for anything that
keeps the question from being answered (throttled, access denied, unreachable).

Lookups by digest or tag are batched (ECR takes at most 100 image ids per DescribeImages call)
and include archived images: since November 2025 DescribeImages returns only ACTIVE images
unless `filter.imageStatus` says otherwise, and an archived replica is still a replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.roles import sdk_failure
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location
from chalicelib.core.reconciliation import RegistryImage, ReplicationStatus, RepositoryInfo

MAX_IMAGE_IDS = 100  # DescribeImages imageIds limit (ImageIdentifierList max)
LIST_PAGE = 1000  # ListImages maxResults limit
ANY_STATUS = {"imageStatus": "ANY"}
IMAGE_NOT_FOUND = frozenset({"ImageNotFoundException"})
NO_POLICY = frozenset({"RegistryPolicyNotFoundException"})


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_code(error: Exception) -> str:
    """The SDK error code of `error` ("" when it has none)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class EcrRegistry:
    """Read-only ECR questions for the registry of one account in one Region."""

    def __init__(self, client: Any, location: Location) -> None:
        self._client = client
        self.location = location
        self.calls = 0  # API calls this registry made (for cost reports and tests)

    def __repr__(self) -> str:
        return f"EcrRegistry({self.location})"

    # ------------------------------------------------------------------ error mapping

    @contextmanager
    def _asking(
        self, repository: str | None = None, allow: frozenset[str] = frozenset()
    ) -> Iterator[None]:
        """Around one API call: SDK errors become the project's, except the codes in `allow`,
        which the caller turns into an answer (an absent image, no policy)."""
        self.calls += 1
        try:
            yield
        except Exception as error:
            code = error_code(error)
            if code in allow:
                raise
            if code == "RepositoryNotFoundException" and repository is not None:
                raise RepositoryNotFound(*self._where, repository) from None
            failure = sdk_failure(error)
            if failure is None:
                if not code:
                    raise  # not an SDK error: a bug, let it surface
                message = getattr(error, "response", {}).get("Error", {}).get("Message", "")
                failure = code, str(message)
            raise RegistryUnavailable(*self._where, *failure) from None

    @property
    def _where(self) -> tuple[str, str]:
        return self.location.account, self.location.region

    # ------------------------------------------------------------------ images

    def images(self, repository: str, digests: Iterable[str]) -> dict[str, RegistryImage]:
        """The images among `digests` that the repository holds, archived ones included.

        Raises RepositoryNotFound when the repository is not there, RegistryUnavailable when
        the registry cannot be asked. A digest that is absent is simply not in the result.
        """
        wanted = sorted(set(digests))
        found: dict[str, RegistryImage] = {}
        listing: list[dict[str, str]] | None = None
        for batch in _chunks(wanted, MAX_IMAGE_IDS):
            ids = [{"imageDigest": d} for d in batch]
            details, listing = self._describe(repository, ids, "imageDigest", listing)
            for detail in details:
                image = _image(detail)
                if image.digest in batch:
                    found[image.digest] = image
        return found

    def find_digests(self, repository: str, digests: Iterable[str]) -> dict[str, datetime]:
        """digest -> imagePushedAt for the `digests` present in the repository (see images)."""
        return {d: image.pushed_at for d, image in self.images(repository, digests).items()}

    def tag_digests(self, repository: str, tags: Iterable[str]) -> dict[str, str]:
        """tag -> digest for the `tags` present in the repository; absent tags are left out."""
        wanted = sorted(set(tags))
        found: dict[str, str] = {}
        listing: list[dict[str, str]] | None = None
        for batch in _chunks(wanted, MAX_IMAGE_IDS):
            ids = [{"imageTag": t} for t in batch]
            details, listing = self._describe(repository, ids, "imageTag", listing)
            for detail in details:
                for tag in detail.get("imageTags") or ():
                    if tag in batch:
                        found[tag] = detail["imageDigest"]
        return found

    def all_images(self, repository: str) -> list[RegistryImage]:
        """Every image of the repository (archived ones included), 1000 a DescribeImages page;
        RepositoryNotFound when the repository is not there."""
        found: list[RegistryImage] = []
        token: str | None = None
        while True:
            with self._asking(repository):
                page = self._client.describe_images(
                    registryId=self.location.account,
                    repositoryName=repository,
                    maxResults=LIST_PAGE,
                    filter=ANY_STATUS,
                    **({"nextToken": token} if token else {}),
                )
            found.extend(_image(detail) for detail in page.get("imageDetails", []))
            token = page.get("nextToken")
            if not token:
                return found

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest `tag` names in the repository, None when the tag is not there."""
        return self.tag_digests(repository, [tag]).get(tag)

    def _describe(
        self,
        repository: str,
        ids: list[dict[str, str]],
        key: str,
        listing: list[dict[str, str]] | None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]] | None]:
        """DescribeImages for up to 100 ids, tolerating absent ones.

        ECR answers a DescribeImages naming one absent image with ImageNotFoundException for the
        whole call (moto does the same). Then the repository's image ids are listed once per
        lookup (ListImages, 1000 a page), and only the ids that are there are described again;
        should that fail too (an image deleted meanwhile), the ids are halved until each is
        answered on its own. Ids simply missing from a successful answer are absent, which also
        covers a service that reports absent ids per id instead of failing the call.
        """
        try:
            with self._asking(repository, allow=IMAGE_NOT_FOUND):
                response = self._client.describe_images(
                    registryId=self.location.account,
                    repositoryName=repository,
                    imageIds=ids,
                    filter=ANY_STATUS,
                )
            return list(response.get("imageDetails", [])), listing
        except Exception as error:
            if error_code(error) not in IMAGE_NOT_FOUND:
                raise
        if listing is None:
            listing = self._list_image_ids(repository)
        present = {i.get(key) for i in listing}
        narrowed = [i for i in ids if i[key] in present]
        if len(narrowed) < len(ids):
            return self._describe(repository, narrowed, key, listing) if narrowed else ([], listing)
        if len(ids) == 1:  # listed, yet not found: deleted meanwhile
            return [], listing
        # Every id is listed and still the call failed (an image went meanwhile): halve.
        half = len(ids) // 2
        first, listing = self._describe(repository, ids[:half], key, listing)
        second, listing = self._describe(repository, ids[half:], key, listing)
        return first + second, listing

    def _list_image_ids(self, repository: str) -> list[dict[str, str]]:
        ids: list[dict[str, str]] = []
        token: str | None = None
        while True:
            with self._asking(repository):
                page = self._client.list_images(
                    registryId=self.location.account,
                    repositoryName=repository,
                    maxResults=LIST_PAGE,
                    filter=ANY_STATUS,
                    **({"nextToken": token} if token else {}),
                )
            ids.extend(page.get("imageIds", []))
            token = page.get("nextToken")
            if not token:
                return ids

    # ------------------------------------------------------------------ replication

    def replication_status(self, repository: str, digest: str) -> list[ReplicationStatus]:
        """ECR's replication status of an image of this (source) registry, per destination.

        An image the registry does not know gives an empty list.
        """
        try:
            with self._asking(repository, allow=IMAGE_NOT_FOUND):
                response = self._client.describe_image_replication_status(
                    registryId=self.location.account,
                    repositoryName=repository,
                    imageId={"imageDigest": digest},
                )
        except Exception as error:
            if error_code(error) in IMAGE_NOT_FOUND:
                return []
            raise
        return [
            ReplicationStatus(
                destination=Location(str(s.get("registryId", "")), str(s.get("region", ""))),
                status=str(s.get("status", "")),
                failure_code=s.get("failureCode") or None,
            )
            for s in response.get("replicationStatuses", [])
        ]

    def replication_rules(self) -> dict[str, Any]:
        """This registry's replication configuration in the `describe-registry` shape plus its
        Region, exactly as REPLICATION_CONFIG holds one item (rules kept whole, including a
        rule's `deleteReplication`)."""
        with self._asking():
            response = self._client.describe_registry()
        configuration = response.get("replicationConfiguration") or {"rules": []}
        return {
            "registryId": str(response.get("registryId") or self.location.account),
            "region": self.location.region,
            "replicationConfiguration": {"rules": list(configuration.get("rules", []))},
        }

    def registry_policy(self) -> str | None:
        """The registry permissions policy text, None when the registry has none."""
        try:
            with self._asking(allow=NO_POLICY):
                response = self._client.get_registry_policy()
        except Exception as error:
            if error_code(error) in NO_POLICY:
                return None
            raise
        text = response.get("policyText")
        return str(text) if text else None

    # ------------------------------------------------------------------ repositories

    def repositories(self, names: Sequence[str] | None = None) -> list[RepositoryInfo]:
        """Every repository of the registry (paginated), or those of `names` that exist."""
        if names is not None:
            found: list[RepositoryInfo] = []
            for name in names:
                try:
                    found.extend(self._repositories(repositoryNames=[name]))
                except RepositoryNotFound:
                    continue
            return found
        return self._repositories()

    def _repositories(self, **params: Any) -> list[RepositoryInfo]:
        found: list[RepositoryInfo] = []
        token: str | None = None
        repository = params["repositoryNames"][0] if "repositoryNames" in params else None
        while True:
            with self._asking(repository):
                page = self._client.describe_repositories(
                    registryId=self.location.account,
                    **params,
                    **({"nextToken": token} if token else {}),
                )
            for repo in page.get("repositories", []):
                found.append(
                    RepositoryInfo(
                        name=repo["repositoryName"],
                        tag_mutability=repo.get("imageTagMutability", "MUTABLE"),
                        mutability_exclusions=tuple(
                            f["filter"] for f in repo.get("imageTagMutabilityExclusionFilters", [])
                        ),
                    )
                )
            token = page.get("nextToken")
            if not token:
                return found


def _image(detail: dict[str, Any]) -> RegistryImage:
    pushed = detail.get("imagePushedAt")
    if not isinstance(pushed, datetime):  # botocore parses timestamps; be safe with raw dicts
        pushed = datetime.fromtimestamp(float(pushed or 0), UTC)
    return RegistryImage(
        digest=detail["imageDigest"],
        pushed_at=pushed.astimezone(UTC),
        tags=tuple(detail.get("imageTags") or ()),
        status=str(detail.get("imageStatus") or "ACTIVE"),
    )


def registry_for(roles: Any, location: Location) -> EcrRegistry:
    """The EcrRegistry of `location`, through the audit role (an AuditRoles)."""
    return EcrRegistry(roles.client("ecr", location.account, location.region), location)
