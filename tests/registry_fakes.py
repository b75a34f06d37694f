"""In-memory registries (the fakes of reconcile.Registry) and the checkpoint store's fake, for
the reconcile and inventory use cases: what each location holds, what it was asked, and
failures injected on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location
from chalicelib.core.reconciliation import RegistryImage, ReplicationStatus, RepositoryInfo


class InMemoryRegistry:
    """One account/Region's repositories and images; `calls` counts the questions asked."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.repos: dict[str, dict[str, RegistryImage]] = {}
        self.statuses: dict[tuple[str, str], list[ReplicationStatus]] = {}
        self.calls = 0
        self.unavailable: str | None = None  # every question fails with this reason
        self.before_call: Callable[[InMemoryRegistry], None] | None = None

    # ------------------------------------------------------------------ set-up

    def put(self, repository: str, digest: str, tag: str | None, pushed_at: datetime) -> None:
        """Like a push: the tag moves to `digest` (off any other image of the repository)."""
        images = self.repos.setdefault(repository, {})
        for other, image in list(images.items()):
            if tag in image.tags:
                images[other] = RegistryImage(
                    other, image.pushed_at, tuple(t for t in image.tags if t != tag), image.status
                )
        old = images.get(digest)
        tags = tuple(sorted({*(old.tags if old else ()), *([tag] if tag else [])}))
        images[digest] = RegistryImage(digest, old.pushed_at if old else pushed_at, tags, "ACTIVE")

    def create(self, repository: str) -> None:
        self.repos.setdefault(repository, {})

    # ------------------------------------------------------------------ questions

    def _repo(self, repository: str) -> dict[str, RegistryImage]:
        self.calls += 1
        if self.before_call is not None:
            self.before_call(self)
        if self.unavailable:
            raise RegistryUnavailable(*self._where, self.unavailable)
        if repository not in self.repos:
            raise RepositoryNotFound(*self._where, repository)
        return self.repos[repository]

    @property
    def _where(self) -> tuple[str, str]:
        return self.location.account, self.location.region

    def all_images(self, repository: str) -> list[RegistryImage]:
        return sorted(self._repo(repository).values(), key=lambda i: i.digest)

    def images(self, repository: str, digests: Iterable[str]) -> dict[str, RegistryImage]:
        held = self._repo(repository)
        return {d: held[d] for d in digests if d in held}

    def tag_digests(self, repository: str, tags: Iterable[str]) -> dict[str, str]:
        held = self._repo(repository)
        wanted = set(tags)
        return {t: i.digest for i in held.values() for t in i.tags if t in wanted}

    def replication_status(self, repository: str, digest: str) -> list[ReplicationStatus]:
        self._repo(repository)
        return self.statuses.get((repository, digest), [])

    def repositories(self, names: Iterable[str] | None = None) -> list[RepositoryInfo]:
        self.calls += 1
        if self.before_call is not None:
            self.before_call(self)
        if self.unavailable:
            raise RegistryUnavailable(*self._where, self.unavailable)
        return [RepositoryInfo(name, "MUTABLE") for name in sorted(self.repos)]


class Registries:
    """Every location's InMemoryRegistry, created on first mention; callable as registry_of."""

    def __init__(self) -> None:
        self.at: dict[Location, InMemoryRegistry] = {}

    def __call__(self, location: Location) -> InMemoryRegistry:
        if location not in self.at:
            self.at[location] = InMemoryRegistry(location)
        return self.at[location]

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.at.values())


class InMemoryCheckpointStore:
    """The checkpoint store's fake: keeps the JSON the DynamoDB item would hold."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.saves = 0

    def load(self):  # -> Checkpoint | None
        from chalicelib.usecases.inventory import Checkpoint

        return Checkpoint.from_json(self.text) if self.text else None

    def save(self, checkpoint) -> None:
        self.saves += 1
        self.text = checkpoint.to_json()
