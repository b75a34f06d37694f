"""The ledger's key layout, in one place: one table (`pk`/`sk`, TTL `expires_at`), two indexes.

Items (pk / sk):
  IMG#<repo>#<digest> / AT#<acct>#<region>            presence of a digest at a location
                                                      (first seen, deletions, tags seen)
  IMG#<repo>#<digest> / REPLICA#<dst>#<src>           expected replica (state, times)
  IMG#<repo>#<digest> / EVENT#<event id>              an event applied to this image
  TAGH#<acct>#<region>#<repo>#<tag> / <time>#<event>  tag history entry
  REPO#<repo> / TAG#<acct>#<region>#<tag>             current digest of a tag at a location
  REPOS / <repo>                                      repositories with expected replicas
  INC#<id> / INC                                      incident (state, alert document)
  INC#<id> / NOTE#OPEN | NOTE#RECOVERED               notification (outbox entry)
  INC#<id> / CLOSE                                    the incident's replica closed: re-check
  COUNTS / STATUS                                     pending, missing, failed, drifted,
                                                      undeleted counters
  RULES / <acct>#<region>                             replication rules read from ECR
                                                      (REPLICATION_SOURCES, registry_rules.py)
  RECONCILE / checkpoint                              where `reconcile --all` stopped
  WORKLOADS / AT#<acct>#<region>                      a location's workload inventory: when
                                                      each type was read, why a read failed,
                                                      its repositories, its open pins
  WORKLOADS#<repo> / AT#<acct>#<region>               the workloads of a location naming that
                                                      repository (one read for an alert)
  COUNTS#ARRIVED#<date>T<HH> / COUNTS, COUNTS#OVERWRITTEN#<date>T<HH> / COUNTS
                                                      per-minute buckets `m<MM>` (24 h counts),
                                                      one item per hour: a write costs a unit
                                                      per KB of the item, and a day's item
                                                      would grow to ~12 KB

Index `work` (gsi1, sparse):
  WORK / <time>#<kind>#<key>   every piece of sweep work by the time it comes due: pending
                               replicas (due), tag entries at replica locations (judge), tag
                               removals (untag), notifications (deliver), closed replicas with
                               an open incident (close). An idle sweep is one Query.
  INCIDENT#open | INCIDENT#resolved / <detected>#<id>   incidents by state, newest last
Index `catalog` (gsi2):
  INCIDENT / <detected>#<id>                  every incident by detection time
  REPO#<repo> / <dst>#<pushed>#<digest>#<src> replicas of a repository by destination and push

Every event's items are written in one transaction together with its EVENT marker, so a retry
either finds the marker (nothing to do) or writes everything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import Location, Replica, format_time, iso

HIGH = "\uffff"  # sorts after every character used in keys
HISTORY_TTL = timedelta(days=90)
NOTIFICATION_TTL = timedelta(days=30)
COUNTER_TTL = timedelta(days=3)
WORK = "WORK"
STATUS_KEY = ("COUNTS", "STATUS")


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


def bucket_key(name: str, moment: datetime) -> tuple[str, str, str]:
    """(pk, sk, attribute) of the per-minute counter bucket holding `moment`: one item per
    hour, 60 small attributes at most, so that every update stays one write unit."""
    text = iso(moment)
    return f"COUNTS#{name}#{text[:13]}", "COUNTS", f"m{text[14:16]}"
