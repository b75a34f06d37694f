"""DynamoLedger: the audit ledger in one DynamoDB table (single-table design, no Scan anywhere).

Items (pk / sk):
  TAGH#<acct>#<region>#<repo>#<tag> / <time>#<event id>   tag history entry (judge queues)
  REPO#<repo> / TAG#<acct>#<region>#<tag>                   current digest of a tag at a location
  IMG#<repo>#<digest> / AT#<acct>#<region>                   presence of a digest at a location
                                                             (first seen, deletions, tags seen)
  IMG#<repo>#<digest> / REPLICA#<dst acct>#<dst region>#<src acct>#<src region>   expected replica
  INC#<incident id> / INC                                    incident (state, alert document)
  INC#<incident id> / NOTE#OPEN | NOTE#RECOVERED             notification outbox entry
  ARRIVED#<date> / <time>#<replica id>, OVERWRITTEN#<date> / <time>#<incident id>   24 h timelines

Index `work` (gsi1, sparse): DUE (pending replicas by due time), JUDGE (tag entries at replica
locations not yet judged for overwrites), UNTAG (tag removals not yet judged for deleting their
image), OUTBOX (undelivered notifications), INCIDENT#open / INCIDENT#resolved (by detection).
Index `catalog` (gsi2): INCIDENT (every incident by detection), REPO#<repo> (replicas of a repo).

Every duplicate write is a no-op or rewrites identical values; every state change is a
conditional write, so two racing invocations cannot both open or close the same incident.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.adapters.cursors import CursorCodec, table_key
from chalicelib.domain import (
    ImageFacts,
    Location,
    Presence,
    Replica,
    TagEntry,
    format_time,
    iso,
    parse_time,
)
from chalicelib.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

T = TypeVar("T")

HISTORY_TTL = timedelta(days=90)
NOTIFICATION_TTL = timedelta(days=30)
TIMELINE_TTL = timedelta(days=3)
HIGH = "\uffff"  # sorts after every character used in keys
PRESENCE_FIELDS = "account = :a, #r = :r, expires_at = :x, #type = :ty"


@dataclass(frozen=True)
class Notification:
    """One alert waiting in the outbox, with the channels it still has to reach."""

    incident_id: str
    note: str  # OPEN or RECOVERED
    alert: dict[str, Any]
    pending: frozenset[str]
    slack_tries: int = 0


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _loc_key(location: Location) -> str:
    return f"{location.account}#{location.region}"


def _ttl(moment: datetime, keep: timedelta) -> int:
    return int((moment + keep).timestamp())


def _readable(items: Iterable[Mapping[str, Any]], parse: Callable[[Any], T]) -> Iterator[T]:
    """Parse items, skipping (and logging) any that cannot be read, so that one bad item never
    stops a sweep or a listing."""
    for item in items:
        try:
            yield parse(item)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            logger.error(
                f"skipped unreadable ledger item {item.get('pk')!r} / {item.get('sk')!r}: "
                f"{type(error).__name__}: {error}"
            )


class DynamoLedger:
    """Reads and writes the ledger; the only module that knows the table's key layout."""

    def __init__(
        self, client: DynamoDBClient, table: str, cursors: CursorCodec | None = None
    ) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._client = client
        self._table = table
        self._cursors = cursors or CursorCodec(table_key(table))
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # ------------------------------------------------------------------ encoding helpers

    def _item(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in values.items() if v is not None}

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in values.items()}

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _conditional_failed(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code == "ConditionalCheckFailedException"

    def _put_new(self, item: Mapping[str, Any]) -> bool:
        """Put an item unless one exists with its key; False when it already did."""
        return (
            self._write(
                self._client.put_item,
                Item=self._item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
            is not None
        )

    def _update_if(self, pk: str, sk: str, **kwargs: Any) -> dict[str, Any] | None:
        """A conditional UpdateItem; None when its condition did not hold."""
        return self._write(self._client.update_item, Key=self._key(pk, sk), **kwargs)

    def _write(self, call: Any, **kwargs: Any) -> dict[str, Any] | None:
        # A failed condition means "already done" or "superseded"; anything else propagates
        # so that Lambda and EventBridge retry.
        try:
            return dict(call(TableName=self._table, **kwargs))
        except Exception as error:
            if self._conditional_failed(error):
                return None
            raise

    def _transaction_conflict(self, error: Exception) -> bool:
        response = getattr(error, "response", {})
        if response.get("Error", {}).get("Code") != "TransactionCanceledException":
            return False
        reasons = response.get("CancellationReasons") or []
        codes = {r.get("Code") for r in reasons}
        # Only a failed condition means "already done"; throttling etc. must propagate.
        return bool(codes) and codes <= {"ConditionalCheckFailed", "None", None}

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        while True:
            response = self._client.query(**kwargs)
            for item in response.get("Items", []):
                yield self._plain(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _count(self, **kwargs: Any) -> int:
        kwargs.update(TableName=self._table, Select="COUNT")
        total = 0
        while True:
            response = self._client.query(**kwargs)
            total += response["Count"]
            last = response.get("LastEvaluatedKey")
            if not last:
                return total
            kwargs["ExclusiveStartKey"] = last

    def _page(self, limit: int, cursor: str | None, **kwargs: Any) -> Page:
        """One page of a Query; the cursor names its listing so it cannot be used on another."""
        listing = f"{kwargs.get('IndexName', 'table')}:{kwargs['ExpressionAttributeValues']}"
        kwargs.update(TableName=self._table, Limit=limit)
        if cursor:
            kwargs["ExclusiveStartKey"] = self._cursors.decode(cursor, listing, *_start_key(kwargs))
        response = self._client.query(**kwargs)
        items = [self._plain(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return Page(items, self._cursors.encode(last, listing) if last else None)

    # ------------------------------------------------------------------ tags

    def record_tag(self, entry: TagEntry, judge: bool) -> bool:
        """Store one tag observation; True if it is new. Moves the head only forward in time."""
        pk = _tag_pk(entry.location, entry.repository, entry.tag)
        item: dict[str, Any] = {
            "pk": pk,
            "sk": entry.sort_key,
            "type": "tag_entry",
            "account": entry.location.account,
            "region": entry.location.region,
            "repository": entry.repository,
            "tag": entry.tag,
            "time": iso(entry.time),
            "event_id": entry.event_id,
            "digest": entry.digest,
            "kind": entry.kind,
            "source_account": entry.source.account if entry.source else None,
            "source_region": entry.source.region if entry.source else None,
            "expires_at": _ttl(entry.time, HISTORY_TTL),
        }
        queue = "UNTAG" if entry.removed_from else "JUDGE" if judge else None
        if queue:
            item.update(gsi1pk=queue, gsi1sk=f"{iso(entry.time)}#{pk}#{entry.sort_key}")
        item["removed_from"] = entry.removed_from
        new = self._put_new(item)
        # Also on a retry that finds the entry: its first attempt may have failed before this.
        self._move_head(entry)
        return new

    def _move_head(self, entry: TagEntry) -> None:
        names = {"#t": "time"}
        values: dict[str, Any] = {":k": entry.sort_key, ":t": iso(entry.time), ":e": entry.event_id}
        if entry.digest is None:
            update = "SET head_key = :k, #t = :t, event_id = :e REMOVE digest"
        else:
            update = "SET head_key = :k, #t = :t, event_id = :e, digest = :d"
            values[":d"] = entry.digest
        # an older event never moves a tag back: its failed condition is fine
        self._update_if(
            f"REPO#{entry.repository}",
            f"TAG#{_loc_key(entry.location)}#{entry.tag}",
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(head_key) OR head_key < :k",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=self._values(values),
        )

    def unjudged_entries(self, now: datetime, limit: int, removals: bool = False) -> list[TagEntry]:
        """Tag entries up to `now` waiting for the overwrite judgement (or, with `removals`,
        tag removals waiting to be judged for deleting their image)."""
        items = self._query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :now",
            ExpressionAttributeValues=self._values(
                {":p": "UNTAG" if removals else "JUDGE", ":now": iso(now) + HIGH}
            ),
        )
        found = []
        for entry in _readable(items, _tag_entry):
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def tag_heads_as_of(
        self, location: Location, repository: str, tags: Iterable[str], moment: datetime
    ) -> dict[str, TagEntry | None]:
        """For each tag, the latest entry of its history at `location` up to `moment`."""
        heads: dict[str, TagEntry | None] = {}
        for tag in sorted(tags):
            items = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk <= :sk",
                ExpressionAttributeValues=self._values(
                    {":pk": _tag_pk(location, repository, tag), ":sk": iso(moment) + HIGH}
                ),
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            ).get("Items", [])
            heads[tag] = next(_readable((self._plain(i) for i in items), _tag_entry), None)
        return heads

    def neighbours(self, entry: TagEntry) -> tuple[TagEntry | None, TagEntry | None]:
        """The entries just before and just after `entry` in its tag's history."""
        pk = _tag_pk(entry.location, entry.repository, entry.tag)
        values = self._values({":pk": pk, ":sk": entry.sort_key})
        before = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk < :sk",
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=1,
        ).get("Items", [])
        after = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk > :sk",
            ExpressionAttributeValues=values,
            Limit=1,
        ).get("Items", [])
        return (
            _tag_entry(self._plain(before[0])) if before else None,
            _tag_entry(self._plain(after[0])) if after else None,
        )

    def mark_judged(self, entry: TagEntry) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(_tag_pk(entry.location, entry.repository, entry.tag), entry.sort_key),
            UpdateExpression="REMOVE gsi1pk, gsi1sk",
        )

    def repository_tags(self, repository: str) -> dict[Location, dict[str, str]]:
        tags: dict[Location, dict[str, str]] = {}
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
            ExpressionAttributeValues=self._values({":pk": f"REPO#{repository}", ":t": "TAG#"}),
        ):
            _, account, region, tag = item["sk"].split("#", 3)
            if "digest" in item:
                tags.setdefault(Location(account, region), {})[tag] = item["digest"]
        return tags

    # ------------------------------------------------------------------ images & replicas

    def record_presence(
        self,
        location: Location,
        repository: str,
        digest: str,
        seen_at: datetime,
        tag: str | None = None,
    ) -> None:
        """The digest is known to be at `location` (under `tag`, if given); keeps the earliest
        time it was seen and every tag seen naming it (a set: commutative)."""
        key = (f"IMG#{repository}#{digest}", f"AT#{_loc_key(location)}")
        if tag is not None:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(*key),
                UpdateExpression=f"ADD tags :tags SET {PRESENCE_FIELDS}",
                **self._presence_values(location, seen_at, {":tags": {tag}}),
            )
        self._update_if(
            *key,
            UpdateExpression=f"SET first_seen = :t, {PRESENCE_FIELDS}",
            ConditionExpression="attribute_not_exists(first_seen) OR first_seen > :t",
            **self._presence_values(location, seen_at, {":t": iso(seen_at)}),
        )

    def record_deletion(
        self, location: Location, repository: str, digest: str, deleted_at: datetime
    ) -> None:
        """A deletion at `location`; every deletion time is kept (a set: duplicates are no-ops)."""
        self._update_if(
            f"IMG#{repository}#{digest}",
            f"AT#{_loc_key(location)}",
            UpdateExpression=f"ADD deletions :ts SET {PRESENCE_FIELDS}",
            **self._presence_values(location, deleted_at, {":ts": {iso(deleted_at)}}),
        )

    def _presence_values(
        self, location: Location, moment: datetime, values: dict[str, Any]
    ) -> dict[str, Any]:
        values = {
            **values,
            ":a": location.account,
            ":r": location.region,
            ":x": _ttl(moment, HISTORY_TTL),
            ":ty": "presence",
        }
        return {
            "ExpressionAttributeNames": {"#r": "region", "#type": "type"},
            "ExpressionAttributeValues": self._values(values),
        }

    def image_facts(self, repository: str, digest: str) -> ImageFacts:
        """One Query: where the digest is, and every replica expected of it."""
        presence: dict[Location, Presence] = {}
        replicas: list[Replica] = []
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=self._values({":pk": f"IMG#{repository}#{digest}"}),
            ConsistentRead=True,
        )
        for fact in _readable(items, _image_fact):
            if isinstance(fact, Replica):
                replicas.append(fact)
            elif fact is not None:
                presence[fact[0]] = fact[1]
        return ImageFacts(presence, tuple(replicas))

    def expect(self, replica: Replica) -> bool:
        """Create a pending replica (True), or move an existing one's push and due time earlier."""
        item = self._replica_item(replica)
        if self._put_new(item):
            return True
        if replica.pushed_at is None:
            return False
        values = {
            ":p": iso(replica.pushed_at),
            ":d": format_time(replica.due_at),
            ":tag": replica.tag,
            ":csk": item["gsi2sk"],
        }
        earlier = "(attribute_not_exists(pushed_at) OR pushed_at > :p)"
        moved = self._update_if(  # a pending replica also (re)enters the due index
            item["pk"],
            item["sk"],
            UpdateExpression=(
                "SET pushed_at = :p, due_at = :d, tag = :tag, gsi2sk = :csk, "
                "gsi1pk = :due, gsi1sk = :dsk"
            ),
            ConditionExpression=f"{earlier} AND #s = :pending",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=self._values(
                {**values, ":pending": "pending", ":due": "DUE", ":dsk": item["gsi1sk"]}
            ),
        )
        if moved is None:
            self._update_if(
                item["pk"],
                item["sk"],
                UpdateExpression="SET pushed_at = :p, due_at = :d, tag = :tag, gsi2sk = :csk",
                ConditionExpression=earlier,
                ExpressionAttributeValues=self._values(values),
            )
        return False

    def _replica_item(self, replica: Replica) -> dict[str, Any]:
        pk, sk = _replica_key(replica)
        item: dict[str, Any] = {
            "pk": pk,
            "sk": sk,
            "type": "replica",
            "repository": replica.repository,
            "digest": replica.digest,
            "tag": replica.tag,
            "source_account": replica.source.account,
            "source_region": replica.source.region,
            "destination_account": replica.destination.account,
            "destination_region": replica.destination.region,
            "pushed_at": format_time(replica.pushed_at),
            "due_at": format_time(replica.due_at),
            "state": replica.state,
            "replicated_at": format_time(replica.replicated_at),
            "failure_reason": replica.failure_reason,
            "gsi2pk": f"REPO#{replica.repository}",
            "gsi2sk": _catalog_key(replica),
        }
        if replica.state == "pending" and replica.due_at is not None:
            item.update(gsi1pk="DUE", gsi1sk=f"{iso(replica.due_at)}#{replica.replica_id}")
        return item

    def transition(
        self,
        replica: Replica,
        to_state: str,
        from_states: Sequence[str],
        at: datetime,
        failure_reason: str | None = None,
    ) -> Replica | None:
        """Move a replica to `to_state` if it is in one of `from_states`; returns the old one."""
        item = self._replica_item(replica)
        sets = ["#s = :to"]
        values: dict[str, Any] = {":to": to_state}
        if to_state == "replicated":
            sets.append("replicated_at = :at")
            values[":at"] = iso(at)
        if failure_reason is not None:
            sets.append("failure_reason = :why")
            values[":why"] = failure_reason
        if to_state in ("replicated", "cancelled"):
            sets.append("expires_at = :x")
            values[":x"] = _ttl(at, HISTORY_TTL)
        allowed = ", ".join(f":from{i}" for i in range(len(from_states)))
        values.update({f":from{i}": s for i, s in enumerate(from_states)})
        response = self._update_if(
            item["pk"],
            item["sk"],
            UpdateExpression=f"SET {', '.join(sets)} REMOVE gsi1pk, gsi1sk",
            ConditionExpression=f"attribute_exists(pk) AND #s IN ({allowed})",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=self._values(values),
            ReturnValues="ALL_OLD",
        )
        return _replica(self._plain(response["Attributes"])) if response else None

    def ensure_replica(self, replica: Replica) -> None:
        """Create a replica known only from a replication event (no push seen yet)."""
        if self._put_new(self._replica_item(replica)):
            self.register_repository(replica.repository)

    def correct_arrival(self, replica: Replica, arrived_at: datetime) -> bool:
        """An earlier arrival learnt late moves replicated_at back to the first sighting."""
        moved = self._update_if(
            *_replica_key(replica),
            UpdateExpression="SET replicated_at = :at",
            ConditionExpression="#s = :replicated AND replicated_at > :at",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=self._values(
                {":at": iso(arrived_at), ":replicated": "replicated"}
            ),
        )
        return moved is not None

    def record_arrival(
        self, replica: Replica, arrived_at: datetime, replaces: datetime | None = None
    ) -> None:
        """Timeline entry for `replicated_24h` (idempotent: keyed by time and replica)."""
        if replaces is not None:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(
                    f"ARRIVED#{iso(replaces)[:10]}", f"{iso(replaces)}#{replica.replica_id}"
                ),
            )
        self._client.put_item(
            TableName=self._table,
            Item=self._item(
                {
                    "pk": f"ARRIVED#{iso(arrived_at)[:10]}",
                    "sk": f"{iso(arrived_at)}#{replica.replica_id}",
                    "expires_at": _ttl(arrived_at, TIMELINE_TTL),
                }
            ),
        )

    def due_replicas(self, now: datetime, limit: int) -> list[Replica]:
        found = []
        items = self._query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :now",
            ExpressionAttributeValues=self._values({":p": "DUE", ":now": iso(now) + HIGH}),
        )
        for replica in _readable(items, _replica):
            found.append(replica)
            if len(found) >= limit:
                break
        return found

    def count_pending(self) -> int:
        return self._count(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=self._values({":p": "DUE"}),
        )

    def replicas_page(
        self, repository: str, limit: int, cursor: str | None
    ) -> tuple[list[Replica], str | None]:
        page = self._page(
            limit,
            cursor,
            IndexName="catalog",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues=self._values({":p": f"REPO#{repository}"}),
        )
        return list(_readable(page.items, _replica)), page.next_cursor

    def repository_known(self, repository: str) -> bool:
        """Any replica recorded for the repository (tag heads are checked by the caller)."""
        response = self._client.query(
            TableName=self._table,
            IndexName="catalog",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues=self._values({":p": f"REPO#{repository}"}),
            Limit=1,
        )
        return bool(response.get("Items"))

    # ------------------------------------------------------------------ repositories

    def register_repository(self, repository: str) -> None:
        """Remember a repository that has replicas (for the dashboard's matrix)."""
        self._client.put_item(
            TableName=self._table,
            Item=self._item({"pk": "REPOS", "sk": repository, "type": "repository"}),
        )

    def repositories(self) -> list[str]:
        return [
            item["sk"]
            for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=self._values({":pk": "REPOS"}),
            )
        ]

    def newest_replica(self, repository: str, destination: Location) -> Replica | None:
        """The replica of the most recently pushed image of a repository at a destination."""
        response = self._client.query(
            TableName=self._table,
            IndexName="catalog",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :d)",
            ExpressionAttributeValues=self._values(
                {":p": f"REPO#{repository}", ":d": f"{_loc_key(destination)}#"}
            ),
            ScanIndexForward=False,
            Limit=1,
        )
        items = (self._plain(i) for i in response.get("Items", []))
        return next(_readable(items, _replica), None)

    # ------------------------------------------------------------------ incidents

    def open_incident(
        self,
        alert: dict[str, Any],
        channels: frozenset[str],
        replica: Replica | None = None,
        to_state: str | None = None,
        from_states: Sequence[str] = (),
        resolved_at_once: bool = False,
    ) -> bool:
        """Atomically: incident + its outbox notification (+ the replica's state change).

        False when the incident already exists or the replica is no longer in `from_states`.
        """
        incident_id = alert["incident_id"]
        detected = alert["detected_at"]
        state = "resolved" if resolved_at_once else "open"
        incident: dict[str, Any] = {
            "pk": f"INC#{incident_id}",
            "sk": "INC",
            "type": "incident",
            "kind": alert["kind"],
            "state": state,
            "alert": json.dumps(alert, sort_keys=True),
            "detected_at": detected,
            "resolved_at": detected if resolved_at_once else None,
            "gsi1pk": f"INCIDENT#{state}",
            "gsi1sk": f"{detected}#{incident_id}",
            "gsi2pk": "INCIDENT",
            "gsi2sk": f"{detected}#{incident_id}",
        }
        if resolved_at_once:
            incident["expires_at"] = _ttl(parse_time(detected), HISTORY_TTL)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(incident),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": self._notification_put(incident_id, "OPEN", alert, channels, detected)},
        ]
        if alert["kind"] == "TAG_OVERWRITTEN":
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._item(
                            {
                                "pk": f"OVERWRITTEN#{detected[:10]}",
                                "sk": f"{detected}#{incident_id}",
                                "expires_at": _ttl(parse_time(detected), TIMELINE_TTL),
                            }
                        ),
                    }
                }
            )
        if replica is not None and to_state is not None:
            key = self._replica_item(replica)
            allowed = ", ".join(f":from{i}" for i in range(len(from_states)))
            values: dict[str, Any] = {":to": to_state}
            values.update({f":from{i}": s for i, s in enumerate(from_states)})
            sets = "#s = :to"
            if alert.get("failure_reason"):
                sets += ", failure_reason = :why"
                values[":why"] = alert["failure_reason"]
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(key["pk"], key["sk"]),
                        "UpdateExpression": f"SET {sets} REMOVE gsi1pk, gsi1sk",
                        "ConditionExpression": f"attribute_exists(pk) AND #s IN ({allowed})",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": self._values(values),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except Exception as error:
            if self._transaction_conflict(error):
                return False
            raise
        return True

    def _notification_put(
        self,
        incident_id: str,
        note: str,
        alert: dict[str, Any],
        channels: frozenset[str],
        created: str,
    ) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": self._item(
                {
                    "pk": f"INC#{incident_id}",
                    "sk": f"NOTE#{note}",
                    "type": "notification",
                    "alert": json.dumps(alert, sort_keys=True),
                    "pending": set(channels) or None,
                    "slack_tries": 0,
                    "gsi1pk": "OUTBOX" if channels else None,
                    "gsi1sk": f"{created}#{incident_id}#{note}",
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(f"INC#{incident_id}", "INC"), ConsistentRead=True
        )
        item = response.get("Item")
        return self._plain(item) if item else None

    def replace_incident_alert(
        self, incident_id: str, expected: str, alert: dict[str, Any]
    ) -> bool:
        """Swap an open incident's stored alert document if nobody changed it meanwhile."""
        swapped = self._update_if(
            f"INC#{incident_id}",
            "INC",
            UpdateExpression="SET alert = :new",
            ConditionExpression="alert = :old AND #s = :open",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=self._values(
                {":new": json.dumps(alert, sort_keys=True), ":old": expected, ":open": "open"}
            ),
        )
        return swapped is not None

    def resolve_incident(
        self, incident_id: str, recovery: dict[str, Any], channels: frozenset[str]
    ) -> bool:
        """Atomically close an open incident and queue its RECOVERED notification."""
        resolved = recovery["detected_at"]
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(f"INC#{incident_id}", "INC"),
                    "UpdateExpression": (
                        "SET #s = :resolved, resolved_at = :at, gsi1pk = :g, expires_at = :x"
                    ),
                    "ConditionExpression": "#s = :open",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": self._values(
                        {
                            ":resolved": "resolved",
                            ":open": "open",
                            ":at": resolved,
                            ":g": "INCIDENT#resolved",
                            ":x": _ttl(parse_time(resolved), HISTORY_TTL),
                        }
                    ),
                }
            },
            {"Put": self._notification_put(incident_id, "RECOVERED", recovery, channels, resolved)},
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except Exception as error:
            if self._transaction_conflict(error):
                return False
            raise
        return True

    def open_incidents(self) -> Iterator[dict[str, Any]]:
        """The alert document of every open incident (a bounded set: the current problems,
        never the history)."""
        items = self._query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=self._values({":p": "INCIDENT#open"}),
        )
        return _readable(items, _replica_alert)

    def open_incident_kinds(self) -> list[str]:
        return [
            item["kind"]
            for item in self._query(
                IndexName="work",
                KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues=self._values({":p": "INCIDENT#open"}),
                ProjectionExpression="kind",
            )
        ]

    def incidents_page(self, state: str, limit: int, cursor: str | None) -> Page:
        if state == "all":
            index, partition, attribute = "catalog", "INCIDENT", "gsi2pk"
        else:
            index, partition, attribute = "work", f"INCIDENT#{state}", "gsi1pk"
        return self._page(
            limit,
            cursor,
            IndexName=index,
            KeyConditionExpression=f"{attribute} = :p",
            ExpressionAttributeValues=self._values({":p": partition}),
            ScanIndexForward=False,
        )

    def count_timeline(self, name: str, since: datetime, until: datetime) -> int:
        total = 0
        day = since.date()
        while day <= until.date():
            total += self._count(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                ExpressionAttributeValues=self._values(
                    {":pk": f"{name}#{day.isoformat()}", ":a": iso(since), ":b": iso(until) + HIGH}
                ),
            )
            day += timedelta(days=1)
        return total

    # ------------------------------------------------------------------ outbox

    def outbox(self, limit: int) -> list[Notification]:
        found = []
        for item in self._query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=self._values({":p": "OUTBOX"}),
        ):
            found.append(_notification(item))
            if len(found) >= limit:
                break
        return found

    def notification(self, incident_id: str, note: str) -> Notification | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(f"INC#{incident_id}", f"NOTE#{note}"),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _notification(self._plain(item)) if item else None

    def claim(self, notification: Notification, now: datetime, lease: timedelta) -> bool:
        """Take a short lease so that only one invocation delivers a notification at a time."""
        claimed = self._update_if(
            f"INC#{notification.incident_id}",
            f"NOTE#{notification.note}",
            UpdateExpression="SET claimed_until = :until",
            ConditionExpression=(
                "gsi1pk = :outbox AND (attribute_not_exists(claimed_until) OR claimed_until < :now)"
            ),
            ExpressionAttributeValues=self._values(
                {
                    ":until": int((now + lease).timestamp()),
                    ":now": int(now.timestamp()),
                    ":outbox": "OUTBOX",
                }
            ),
        )
        return claimed is not None

    def settle(
        self, notification: Notification, remaining: frozenset[str], slack_tries: int, now: datetime
    ) -> None:
        """Record what was delivered and release the lease; leaves the outbox when done."""
        key = self._key(f"INC#{notification.incident_id}", f"NOTE#{notification.note}")
        values: dict[str, Any] = {":tries": slack_tries}
        if remaining:
            update = "SET pending = :pending, slack_tries = :tries REMOVE claimed_until"
            values[":pending"] = set(remaining)
        else:
            update = (
                "SET slack_tries = :tries, delivered_at = :now, expires_at = :x "
                "REMOVE pending, claimed_until, gsi1pk, gsi1sk"
            )
            values[":now"] = iso(now)
            values[":x"] = _ttl(now, NOTIFICATION_TTL)
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=update,
            ExpressionAttributeValues=self._values(values),
        )


# ---------------------------------------------------------------------- item mapping


def _replica_key(replica: Replica) -> tuple[str, str]:
    return (
        f"IMG#{replica.repository}#{replica.digest}",
        f"REPLICA#{_loc_key(replica.destination)}#{_loc_key(replica.source)}",
    )


def _catalog_key(replica: Replica) -> str:
    # destination first, then push time: the newest image at a destination is one Query away
    return (
        f"{_loc_key(replica.destination)}#{format_time(replica.pushed_at) or ''}#"
        f"{replica.digest}#{_loc_key(replica.source)}"
    )


def _tag_pk(location: Location, repository: str, tag: str) -> str:
    return f"TAGH#{_loc_key(location)}#{repository}#{tag}"


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def _image_fact(item: Mapping[str, Any]) -> Replica | tuple[Location, Presence] | None:
    if item["sk"].startswith("REPLICA#"):
        return _replica(item)
    if not item["sk"].startswith("AT#"):
        return None
    presence = Presence(
        first_seen=_time(item.get("first_seen")),
        deletions=frozenset(parse_time(t) for t in item.get("deletions", ())),
        tags=frozenset(item.get("tags", ())),
    )
    return Location(item["account"], item["region"]), presence


def _replica_alert(item: Mapping[str, Any]) -> dict[str, Any]:
    """An incident's alert document, checked for the fields a replica incident needs."""
    alert = json.loads(item["alert"])
    for name in ("incident_id", "repository", "digest"):
        if not isinstance(alert[name], str):
            raise ValueError(f"{name} is not a string")
    for name in ("source", "destination"):
        Location(**alert[name])
    return dict(alert)


def _tag_entry(item: Mapping[str, Any]) -> TagEntry:
    source = None
    if item.get("source_account"):
        source = Location(item["source_account"], item["source_region"])
    return TagEntry(
        location=Location(item["account"], item["region"]),
        repository=item["repository"],
        tag=item["tag"],
        time=parse_time(item["time"]),
        event_id=item["event_id"],
        digest=item.get("digest"),
        kind=item["kind"],
        source=source,
        removed_from=item.get("removed_from"),
    )


def _replica(item: Mapping[str, Any]) -> Replica:
    return Replica(
        repository=item["repository"],
        digest=item["digest"],
        source=Location(item["source_account"], item["source_region"]),
        destination=Location(item["destination_account"], item["destination_region"]),
        tag=item.get("tag"),
        pushed_at=_time(item.get("pushed_at")),
        due_at=_time(item.get("due_at")),
        state=item["state"],
        replicated_at=_time(item.get("replicated_at")),
        failure_reason=item.get("failure_reason"),
    )


def _notification(item: Mapping[str, Any]) -> Notification:
    _, incident_id = item["pk"].split("#", 1)
    return Notification(
        incident_id=incident_id,
        note=item["sk"].split("#", 1)[1],
        alert=json.loads(item["alert"]),
        pending=frozenset(item.get("pending") or ()),
        slack_tries=int(item.get("slack_tries", 0)),
    )


# ------------------------------------------------------------------ cursor shapes

# Key attributes of the table and of each index; a page's LastEvaluatedKey on an index holds
# the table's key and the index's.
INDEX_KEYS = {"table": ("pk", "sk"), "work": ("gsi1pk", "gsi1sk"), "catalog": ("gsi2pk", "gsi2sk")}


def _start_key(query: Mapping[str, Any]) -> tuple[frozenset[str], tuple[str, str]]:
    """The attributes an ExclusiveStartKey of this Query must have, and its partition value
    (every paginated Query names its partition `:p`)."""
    partition, sort = INDEX_KEYS[query.get("IndexName", "table")]
    if not query["KeyConditionExpression"].startswith(f"{partition} = :p"):
        raise ValueError(f"a paginated query must select {partition} = :p")
    value = query["ExpressionAttributeValues"][":p"]["S"]
    return frozenset({"pk", "sk", partition, sort}), (partition, value)
