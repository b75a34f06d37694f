"""The demo's scenario: one simulated day of ECR events in a dev, a prod and a DR registry.

Times are relative to "now": the day ends a few minutes before the wall clock, so the 24 h
counters of `GET /status` count it. Events are built from the shapes of AWS's documented
samples (events/ in the shared specification); sweeps are replayed `Scheduled Event`s at the
5-minute marks that matter, so a whole day plays in seconds.

`python -m chalicelib.local.scenario > day.jsonl` writes the day for `cli replay`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.local.scenario_events import (
    Where,
    digest,
    image_action,
    replication_action,
    scheduled_event,
)

DEV: Where = ("111111111111", "us-west-2")
PROD: Where = ("222222222222", "eu-west-1")
DR: Where = ("333333333333", "us-east-1")

# Friendly names: the demo sets them as LOCATION_NAMES (`provision --demo-rules` prints them).
LOCATION_NAMES = {f"{a}/{r}": name for name, (a, r) in {"dev": DEV, "prod": PROD, "dr": DR}.items()}

GRACE_SECONDS = 1800
SWEEP_EVERY = timedelta(minutes=5)
HEARTBEAT = timedelta(hours=1)
DAY_LENGTH = timedelta(hours=23, minutes=40)
# The last event lands this long before the wall clock, so nothing lies in the future.
END_MARGIN = timedelta(minutes=5)

# dev replicates team/* to prod and DR, tools/* to prod only, secure/* to both with its
# deletions; anything else stays in dev.
REPLICATION_CONFIG: list[dict[str, Any]] = [
    {
        "registryId": DEV[0],
        "region": DEV[1],
        "replicationConfiguration": {
            "rules": [
                {
                    "destinations": [
                        {"registryId": PROD[0], "region": PROD[1]},
                        {"registryId": DR[0], "region": DR[1]},
                    ],
                    "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
                },
                {
                    "destinations": [{"registryId": PROD[0], "region": PROD[1]}],
                    "repositoryFilters": [{"filter": "tools/", "filterType": "PREFIX_MATCH"}],
                },
                {  # ECR, November 2026: deletions and tag removals replicate too
                    "destinations": [
                        {"registryId": PROD[0], "region": PROD[1]},
                        {"registryId": DR[0], "region": DR[1]},
                    ],
                    "repositoryFilters": [{"filter": "secure/", "filterType": "PREFIX_MATCH"}],
                    "deleteReplication": {"enabled": True},
                },
            ]
        },
    }
]

# The untagged manifests `docker buildx` pushes before it tags a two-platform index.
CHILDREN = ("linux-amd64", "linux-arm64", "attestation-amd64", "attestation-arm64")


def _ceil(moment: datetime, step: timedelta, strictly_after: bool) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps, remainder = divmod(moment - epoch, step)
    if remainder or strictly_after:
        steps += 1
    return epoch + steps * step


@dataclass(frozen=True)
class WorkloadAction:
    """What a team does to what runs (not an ECR event, so not replayed by `cli replay`): at
    `at`, `action` is "service" (an ECS service `name` = <cluster>/<service> on `image`),
    "function" (a Lambda function packaged as `image`) or "function-code" (its code moved to
    `image`); images are `repository` followed by `suffix` in `where`'s registry."""

    at: datetime
    action: str
    where: Where
    name: str
    repository: str
    suffix: str

    @property
    def image(self) -> str:
        account, region = self.where
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{self.repository}{self.suffix}"


@dataclass(frozen=True)
class Scenario:
    """One replayable day: the configuration it assumes and its events in delivery order."""

    start: datetime
    end: datetime
    events: list[dict[str, Any]]
    replication_config: list[dict[str, Any]] = field(
        default_factory=lambda: list(REPLICATION_CONFIG)
    )
    # Repositories whose registry refuses to move a tag, and what they held before the day.
    immutable: tuple[tuple[Where, str], ...] = ((DR, "team/payments"),)
    preexisting: tuple[tuple[Where, str, str, str], ...] = (
        (DR, "team/payments", "stable", digest("payments-1.0-dr")),
    )
    grace_seconds: int = GRACE_SECONDS
    workloads: tuple[WorkloadAction, ...] = ()

    @property
    def sweeps(self) -> int:
        return sum(1 for e in self.events if e["detail-type"] == "Scheduled Event")

    def _image_actions(self, action: str, tagged: bool) -> int:
        return sum(
            1
            for e in self.events
            if e["detail-type"] == "ECR Image Action"
            and e["detail"]["action-type"] == action
            and bool(e["detail"].get("image-tag")) == tagged
        )

    @property
    def untagged_pushes(self) -> int:
        return self._image_actions("PUSH", tagged=False)

    @property
    def tag_removals(self) -> int:
        return self._image_actions("DELETE", tagged=True)


class _Day:
    """Writes the story in day-relative "HH:MM" times; delivery may lag an event's own time."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._timed: list[tuple[datetime, int, dict[str, Any]]] = []
        self._due: list[datetime] = []
        self.workloads: list[WorkloadAction] = []

    def at(self, clock: str) -> datetime:
        hours, minutes = clock.split(":")
        return self.start + timedelta(hours=int(hours), minutes=int(minutes))

    def _add(self, event: dict[str, Any], when: datetime, delay_minutes: int = 0) -> None:
        self._timed.append((when + timedelta(minutes=delay_minutes), len(self._timed), event))

    def push(
        self, where: Where, repo: str, tag: str, build: str, clock: str, delay: int = 0
    ) -> None:
        when = self.at(clock)
        self._add(image_action("PUSH", where, repo, tag, digest(build), when), when, delay)
        if where == DEV:
            self._due.append(when + timedelta(seconds=GRACE_SECONDS))

    def push_multi_arch(self, where: Where, repo: str, tag: str, build: str, clock: str) -> None:
        """`docker buildx build --platform linux/amd64,linux/arm64 --push`: each platform
        manifest and its attestation manifest are pushed untagged, then the index is tagged."""
        when = self.at(clock)
        for child in CHILDREN:
            event = image_action("PUSH", where, repo, "", digest(f"{build}-{child}"), when)
            self._add(event, when)
        self.push(where, repo, tag, build, clock)

    def replicate_multi_arch(
        self, dest: Where, repo: str, tag: str, build: str, clock: str
    ) -> None:
        """The index arrives with its tag, its children untagged."""
        for child in CHILDREN:
            self.replicate(dest, repo, "", f"{build}-{child}", clock)
        self.replicate(dest, repo, tag, build, clock)

    def remove_tag(self, where: Where, repo: str, tag: str, build: str, clock: str) -> None:
        """A DELETE carrying a tag: only that tag goes while the image keeps another."""
        when = self.at(clock)
        self._add(image_action("DELETE", where, repo, tag, digest(build), when), when)

    def delete_image(self, where: Where, repo: str, build: str, clock: str) -> None:
        """A DELETE of the image itself (by digest); a sweep runs when its replicated
        deletions are due."""
        when = self.at(clock)
        self._add(image_action("DELETE", where, repo, "", digest(build), when), when)
        if where == DEV:
            self._due.append(when + timedelta(seconds=GRACE_SECONDS))

    def replicate(
        self,
        dest: Where,
        repo: str,
        tag: str,
        build: str,
        clock: str,
        ok: bool = True,
        delay: int = 0,
    ) -> None:
        when = self.at(clock)
        event = replication_action(dest, DEV, repo, tag, digest(build), when, ok)
        self._add(event, when, delay)

    def run(self, action: str, where: Where, name: str, image: str, clock: str) -> None:
        """A workload deployed (or its code moved) at `clock`; `image` is `repository:tag` or
        `repository@build` (the build's digest)."""
        repository, at, build = image.partition("@")
        if at:
            suffix = f"@{digest(build)}"
        else:
            repository, _, tag = image.partition(":")
            suffix = f":{tag}"
        self.workloads.append(
            WorkloadAction(self.at(clock), action, where, name, repository, suffix)
        )

    def redeliver_last(self, delay_minutes: int) -> None:
        """ECR delivers "on a best effort basis": the same event (same id) arrives twice."""
        when, _, event = self._timed[-1]
        self._add(json.loads(json.dumps(event)), when, delay_minutes)

    def events(self, end: datetime) -> list[dict[str, Any]]:
        # Sweeps at the 5-minute marks right after each event and at each due time, plus an
        # hourly heartbeat: the other marks of the real rate(5 minutes) would find nothing new.
        marks = {_ceil(when, SWEEP_EVERY, strictly_after=True) for when, _, _ in self._timed}
        marks |= {_ceil(due, SWEEP_EVERY, strictly_after=False) for due in self._due}
        beat = _ceil(self.start, HEARTBEAT, strictly_after=False)
        while beat <= end:
            marks.add(beat)
            beat += HEARTBEAT
        marks.add(end)
        timed = list(self._timed)
        for mark in marks:
            if self.start <= mark <= end:
                # sorts after the ECR events of the same instant, as a sweep runs after them
                timed.append((mark, len(self._timed) + len(timed), scheduled_event(mark)))
        return [event for _, _, event in sorted(timed, key=lambda item: item[:2])]


def build(now: datetime | None = None) -> Scenario:
    """The demo day, ending a few minutes before `now` (default: the wall clock)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = _ceil(now - END_MARGIN, SWEEP_EVERY, strictly_after=False) - SWEEP_EVERY
    day = _Day(end - DAY_LENGTH)

    # Healthy releases: dev pushes, both replicas arrive within minutes.
    day.push(DEV, "team/api", "v1.4.0", "api-1.4.0", "00:20")
    day.replicate(PROD, "team/api", "v1.4.0", "api-1.4.0", "00:23")
    day.replicate(DR, "team/api", "v1.4.0", "api-1.4.0", "00:24")
    day.push(DEV, "team/web", "v2.0.0", "web-2.0.0", "00:40")
    day.replicate(PROD, "team/web", "v2.0.0", "web-2.0.0", "00:44")
    day.replicate(DR, "team/web", "v2.0.0", "web-2.0.0", "00:45")
    # ECR may also emit a PUSH where a replica lands; this one is delivered late. Neither
    # counts as a local push: it is the same digest dev sent.
    day.push(DR, "team/web", "v2.0.0", "web-2.0.0", "00:45", delay=7)
    day.push(DEV, "tools/builder", "2024.11.1", "builder-2024.11.1", "01:10")
    day.replicate(PROD, "tools/builder", "2024.11.1", "builder-2024.11.1", "01:16")
    # No rule matches sandbox/: nothing is expected, nothing alerts.
    day.push(DEV, "sandbox/scratch", "wip", "scratch-wip", "01:30")

    # The `latest` overwrite: prod pushed its own `latest` and deployed it (ECS pins the digest
    # `latest` names then); dev's replicated `latest` replaces it: prod's next deployment of
    # prod/api would take dev's image.
    day.push(PROD, "team/api", "latest", "api-prod-hotfix", "02:15")
    day.run("service", PROD, "prod/api", "team/api:latest", "02:30")
    day.push(DEV, "team/api", "v1.4.1", "api-1.4.1", "03:00")
    day.push(DEV, "team/api", "latest", "api-1.4.1", "03:00")
    day.replicate(PROD, "team/api", "v1.4.1", "api-1.4.1", "03:04")
    day.replicate(PROD, "team/api", "latest", "api-1.4.1", "03:04")
    day.replicate(DR, "team/api", "v1.4.1", "api-1.4.1", "03:05")
    day.replicate(DR, "team/api", "latest", "api-1.4.1", "03:05")
    day.redeliver_last(delay_minutes=2)  # a duplicate changes nothing

    # A replica that never arrives: DR never gets team/worker:v3.1.0.
    day.push(DEV, "team/worker", "v3.1.0", "worker-3.1.0", "05:00")
    day.replicate(PROD, "team/worker", "v3.1.0", "worker-3.1.0", "05:03")

    # Fails, then recovers: ECR reports FAILED for prod, then the retry succeeds.
    day.push(DEV, "team/billing", "v0.9.0", "billing-0.9.0", "07:00")
    day.replicate(PROD, "team/billing", "v0.9.0", "billing-0.9.0", "07:02", ok=False)
    day.replicate(DR, "team/billing", "v0.9.0", "billing-0.9.0", "07:03")
    day.replicate(PROD, "team/billing", "v0.9.0", "billing-0.9.0", "07:41")

    # A hand-pushed tag in prod: v2.0.0 there now diverges from dev's v2.0.0.
    day.push(PROD, "team/web", "v2.0.0", "web-2.0.0-prod-patch", "10:12")

    # A late replica: tools/builder reaches prod 72 minutes after the push.
    day.push(DEV, "tools/builder", "2024.11.2", "builder-2024.11.2", "12:00")
    day.replicate(PROD, "tools/builder", "2024.11.2", "builder-2024.11.2", "13:12")

    # More healthy traffic through the afternoon.
    day.push(DEV, "team/web", "v2.1.0", "web-2.1.0", "15:00")
    day.replicate(PROD, "team/web", "v2.1.0", "web-2.1.0", "15:03")
    day.replicate(DR, "team/web", "v2.1.0", "web-2.1.0", "15:04")
    day.push(DEV, "team/billing", "v0.9.1", "billing-0.9.1", "18:00")
    day.replicate(DR, "team/billing", "v0.9.1", "billing-0.9.1", "18:02")
    day.replicate(PROD, "team/billing", "v0.9.1", "billing-0.9.1", "18:03")

    # A leaked image deleted at dev under a delete-replicating rule: prod's copy goes with it,
    # DR's stays (DELETE_NOT_REPLICATED) until someone deletes it there by hand.
    day.push(DEV, "secure/vault", "v1", "vault-1", "16:00")
    day.replicate(PROD, "secure/vault", "v1", "vault-1", "16:03")
    day.replicate(DR, "secure/vault", "v1", "vault-1", "16:04")
    # A Lambda function in prod pins that image's digest: once the replicated deletion removes
    # it there, the function cannot be updated or restored (PINNED_DIGEST_MISSING) until it is
    # moved to a tag (v2) that prod has.
    day.run("function", PROD, "vault-rotator", "secure/vault@vault-1", "16:10")
    day.delete_image(DEV, "secure/vault", "vault-1", "16:40")
    day.delete_image(PROD, "secure/vault", "vault-1", "16:42")
    day.push(DEV, "secure/vault", "v2", "vault-2", "17:00")
    day.replicate(PROD, "secure/vault", "v2", "vault-2", "17:03")
    day.replicate(DR, "secure/vault", "v2", "vault-2", "17:04")
    day.run("function-code", PROD, "vault-rotator", "secure/vault:v2", "17:20")
    day.delete_image(DR, "secure/vault", "vault-1", "17:50")

    # A multi-arch image built with buildx, with a release-candidate tag on the same index:
    # only the tagged index is expected, its untagged children travel with it, and removing
    # the rc tag leaves the image (it keeps v2.2.0). Neither alerts.
    day.push_multi_arch(DEV, "team/web", "v2.2.0", "web-2.2.0", "19:00")
    day.push(DEV, "team/web", "v2.2.0-rc1", "web-2.2.0", "19:00")
    day.replicate_multi_arch(PROD, "team/web", "v2.2.0", "web-2.2.0", "19:04")
    day.replicate_multi_arch(DR, "team/web", "v2.2.0", "web-2.2.0", "19:05")
    day.remove_tag(DEV, "team/web", "v2.2.0-rc1", "web-2.2.0", "20:30")

    # An immutable destination: DR's team/payments keeps its own `stable`, so the replica of
    # dev's new `stable` arrives there untagged. No event says so; the registries do (TAG_DRIFT).
    day.push(DEV, "team/payments", "stable", "payments-2.0", "21:00")
    day.replicate(PROD, "team/payments", "stable", "payments-2.0", "21:03")
    day.replicate(DR, "team/payments", "stable", "payments-2.0", "21:04")

    # The evening release: prod's `latest` follows dev's (ordinary propagation, no alert);
    # DR is still within its grace period when the day ends.
    day.push(DEV, "team/api", "v1.5.0", "api-1.5.0", "23:30")
    day.push(DEV, "team/api", "latest", "api-1.5.0", "23:30")
    day.replicate(PROD, "team/api", "v1.5.0", "api-1.5.0", "23:33")
    day.replicate(PROD, "team/api", "latest", "api-1.5.0", "23:33")

    return Scenario(
        start=day.start, end=end, events=day.events(end), workloads=tuple(day.workloads)
    )


def main() -> int:
    for event in build().events:
        sys.stdout.write(json.dumps(event) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
