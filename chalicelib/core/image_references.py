"""Image references as ECR writes them: which registry, repository, tag and digest a workload names.

A container definition's `image`, a Lambda function's `ImageUri` and `ResolvedImageUri` are
`<registry host>/<repository>` followed by `:<tag>`, `@<digest>` or `:<tag>@<digest>`. Only an
ECR private registry host names a location the auditor watches:
- `<account>.dkr.ecr.<region>.amazonaws.com` (what `repositoryUri` gives), `.amazonaws.com.cn`
  in the China Regions;
- `<account>.dkr.ecr-fips.<region>.amazonaws.com` (FIPS endpoints) and
  `<account>.dkr-ecr.<region>.on.aws` (dual-stack endpoints): the same registry by another door.
Everything else (Docker Hub, ECR Public, another registry, a malformed string) is not ECR's and
parses to None: the auditor ignores it. A reference with neither tag nor digest pulls `latest`, as
the Docker and OCI clients (and so ECS) do. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.core.lifecycle import DIGEST_RE, REPOSITORY_RE, TAG_RE

DEFAULT_TAG = "latest"

_HOST_RE = re.compile(
    r"(?P<account>[0-9]{12})\."
    r"(?:dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]{2,25})\.amazonaws\.com(?:\.cn)?"
    r"|dkr-ecr\.(?P<dual_region>[a-z0-9-]{2,25})\.on\.aws)"
)


@dataclass(frozen=True)
class ImageReference:
    """What one reference names: a repository of (account, region)'s registry, by tag, digest
    or both (`:tag@digest` pulls the digest; the tag is informative)."""

    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        """Whether the reference names a digest, so that moving the tag does not change it."""
        return self.digest is not None


def parse_image_reference(text: object) -> ImageReference | None:
    """The ECR image `text` names, or None when it is not an ECR private registry's image."""
    if not isinstance(text, str) or "/" not in text or len(text) > 2048:
        return None
    host, _, path = text.partition("/")
    registry = _HOST_RE.fullmatch(host.lower())
    if registry is None:
        return None
    name, at, digest = path.partition("@")
    if at and DIGEST_RE.match(digest) is None:
        return None
    repository, tag = _split_tag(name)
    if REPOSITORY_RE.match(repository) is None or not 2 <= len(repository) <= 256:
        return None
    if tag is not None and TAG_RE.match(tag) is None:
        return None
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageReference(
        account=registry["account"],
        region=registry["region"] or registry["dual_region"],
        repository=repository,
        tag=tag,
        digest=digest if at else None,
    )


def _split_tag(name: str) -> tuple[str, str | None]:
    # The tag follows the last colon of the last path component (a repository has no colon).
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1 :]
    return name, None
