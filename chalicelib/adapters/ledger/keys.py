"""The ledger's key layout, in one place: one table (`pk`/`sk`, TTL `expires_at`), two indexes.
Layout 3 (docs/ledger.md: no item or partition key is written by more than a small share of
events); a ledger of layout 2 ("ledger v2", before layout markers) is moved to it by
migration.py.

Items (pk / sk):
  IMG#<repo>#<digest> / AT#<acct>#<region>            presence of a digest at a location
                                                      (first seen, deletions, tags seen)
  IMG#<repo>#<digest> / REPLICA#<dst>#<src>           expected replica (state, times)
  IMG#<repo>#<digest> / EVENT#<event id>              an event applied to this image
  TAGH#<acct>#<region>#<repo>#<tag> / <time>#<event>  tag history entry
  REPO#<repo> / TAG#<acct>#<region>#<tag>             current digest of a tag at a location
  REPOS#<r> / <repo>                                  repositories with expected replicas,
                                                      r = crc32(repo) mod REPOS_SHARDS
  INC#<id> / INC                                      incident (state, alert document)
  INC#<id> / NOTE#OPEN | NOTE#RECOVERED               notification (outbox entry)
  INC#<id> / CLOSE                                    the incident's replica closed: re-check
  COUNTS#<s> / STATUS                                 pending, missing, failed, drifted,
                                                      undeleted: shard s's share
  COUNTS#<s> / DAY#<date>                             arrivals `a<HH>` and overwrites `o<HH>`
                                                      per hour of that day (shard s's share)
  COUNTS#<s> / HOUR#<date>T<HH>                       the same per minute `a<MM>`, `o<MM>`
                                                      (the 24 h window's two edge hours)
  LAYOUT / LAYOUT                                     the layout version (3)
  RULES / <acct>#<region>                             replication rules read from ECR
                                                      (REPLICATION_SOURCES, registry_rules.py)
  RECONCILE / checkpoint                              where `reconcile --all` stopped
  WORKLOADS / AT#<acct>#<region>                      a location's workload inventory: when
                                                      each type was read, why a read failed,
                                                      its repositories, its open pins
  WORKLOADS#<repo> / AT#<acct>#<region>               the workloads of a location naming that
                                                      repository (one read for an alert)

A commit adds its counts to one counter shard s of COUNTER_SHARDS, drawn at random for each
attempt; /status adds the shards up (5 items each, two BatchGetItem).

Index `work` (gsi1, sparse):
  WORK#<w> / <time>#<kind>#<key>   every piece of sweep work by the time it comes due: pending
                               replicas (due), tag entries at replica locations (judge), tag
                               removals (untag), notifications (deliver), closed replicas with
                               an open incident (close); w = crc32(pk#sk) mod WORK_SHARDS of the
                               item. An idle sweep is one Query per shard.
  INCIDENT#open | INCIDENT#resolved / <detected>#<id>   incidents by state, newest last
Index `catalog` (gsi2):
  INCIDENT / <detected>#<id>                  every incident by detection time
  REPO#<repo> / <dst>#<pushed>#<digest>#<src> replicas of a repository by destination and push

Every event's items are written in one transaction together with its EVENT marker, so a retry
either finds the marker (nothing to do) or writes everything.

Layout 2 (ledger v2, before the marker): `COUNTS / STATUS`,
`COUNTS#ARRIVED#<date>T<HH> / COUNTS` and `COUNTS#OVERWRITTEN#<date>T<HH> / COUNTS` (minutes
`m<MM>`), `REPOS / <repo>`, and one work partition `WORK`: every event of the organisation
wrote the same one to three items.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import Location, Replica, format_time, iso

HIGH = "\uffff"  # sorts after every character used in keys
HISTORY_TTL = timedelta(days=90)
NOTIFICATION_TTL = timedelta(days=30)
COUNTER_TTL = timedelta(days=3)
LAYOUT_VERSION = 3
LAYOUT_KEY = ("LAYOUT", "LAYOUT")
# Part of the layout: changing one moves items (a new layout version and its migration).
COUNTER_SHARDS = 32
WORK_SHARDS = 8
REPOS_SHARDS = 8

# Layout 2's keys (ledger v2), read only by the migration.
LEGACY_WORK = "WORK"
LEGACY_STATUS_KEY = ("COUNTS", "STATUS")
LEGACY_REPOS = "REPOS"


def loc(location: Location) -> str:
    return f"{location.account}#{location.region}"


def ttl(moment: datetime, keep: timedelta) -> int:
    return int((moment + keep).timestamp())


def image_pk(repository: str, digest: str) -> str:
    return f"IMG#{repository}#{digest}"


def presence_sk(location: Location) -> str:
    return f"AT#{loc(location)}"


def replica_key(replica: Replica) -> tuple[str, str]:
    return (
        image_pk(replica.repository, replica.digest),
        f"REPLICA#{loc(replica.destination)}#{loc(replica.source)}",
    )


def event_key(repository: str, digest: str, event_id: str) -> tuple[str, str]:
    return image_pk(repository, digest), f"EVENT#{event_id}"


def catalog_sk(replica: Replica) -> str:
    # destination first, then push time: the newest image at a destination is one Query away
    return (
        f"{loc(replica.destination)}#{format_time(replica.pushed_at) or ''}#"
        f"{replica.digest}#{loc(replica.source)}"
    )


def tag_pk(location: Location, repository: str, tag: str) -> str:
    return f"TAGH#{loc(location)}#{repository}#{tag}"


def entry_key(entry: TagEntry) -> tuple[str, str]:
    return tag_pk(entry.location, entry.repository, entry.tag), entry.sort_key


def head_key(entry: TagEntry) -> tuple[str, str]:
    return f"REPO#{entry.repository}", f"TAG#{loc(entry.location)}#{entry.tag}"


def incident_key(incident_id: str, sk: str = "INC") -> tuple[str, str]:
    return f"INC#{incident_id}", sk


def _bucket(text: str, shards: int) -> int:
    return zlib.crc32(text.encode()) % shards


def work_pk(pk: str, sk: str) -> str:
    """The work index partition of the item `pk`/`sk`: fixed by its key, so that an item moving
    in the queue stays in its shard."""
    return f"WORK#{_bucket(f'{pk}#{sk}', WORK_SHARDS)}"


def work_pks() -> list[str]:
    return [f"WORK#{w}" for w in range(WORK_SHARDS)]


def repos_pk(repository: str) -> str:
    return f"REPOS#{_bucket(repository, REPOS_SHARDS)}"


def repos_pks() -> list[str]:
    return [f"REPOS#{r}" for r in range(REPOS_SHARDS)]


def work_sk(at: str, kind: str, *identity: str) -> str:
    return "#".join((at, kind, *identity))


def due_work(replica: Replica) -> str | None:
    """Pending replicas are due at their due time; so are those whose tag is still to be
    compared in both registries (TAG_DRIFT), and deletions and tag removals to check
    (DELETE_NOT_REPLICATED)."""
    waiting = replica.state == "pending" or (replica.drift_check and replica.state != "cancelled")
    times = [t for t in (replica.due_at if waiting else None, replica.deletion_check_at) if t]
    times += [check.due_at for check in replica.untag_checks]
    if not times:
        return None
    return work_sk(iso(min(times)), "due", *replica_key(replica))


WORKLOADS = "WORKLOADS"


def workloads_state_key(location: Location) -> tuple[str, str]:
    return WORKLOADS, f"AT#{loc(location)}"


def workloads_key(repository: str, location: Location) -> tuple[str, str]:
    return f"{WORKLOADS}#{repository}", f"AT#{loc(location)}"


def counter_pk(shard: int) -> str:
    return f"COUNTS#{shard}"


def status_key(shard: int) -> tuple[str, str]:
    return counter_pk(shard), "STATUS"


def day_key(shard: int, moment: datetime) -> tuple[str, str]:
    """Hour totals `a<HH>`/`o<HH>` of the day holding `moment`."""
    return counter_pk(shard), f"DAY#{iso(moment)[:10]}"


def hour_key(shard: int, moment: datetime) -> tuple[str, str]:
    """Minute counts `a<MM>`/`o<MM>` of the hour holding `moment`: 120 small attributes at
    most, so that an update stays one write unit."""
    return counter_pk(shard), f"HOUR#{iso(moment)[:13]}"


COUNTED = {"ARRIVED": "a", "OVERWRITTEN": "o"}  # window counts: attribute prefix


def legacy_bucket_key(name: str, hour: str) -> tuple[str, str]:
    """Layout 2's per-minute bucket (attributes `m<MM>`) of `name` for the hour `<date>T<HH>`."""
    return f"COUNTS#{name}#{hour}", "COUNTS"
