"""Start and stop a moto server on 127.0.0.1 as a child process (tests and the demo)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A moto server child process bound to loopback only."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_moto(
    port: int | None = None,
    timeout: float = 30.0,
    module: str = "chalicelib.local.emulator",
    conflicts_ms: tuple[float, float] | None = None,
) -> MotoServer:
    """Launch a moto server (`module`'s `serve`, this one's by default) and wait until it
    answers; RuntimeError if it does not. `conflicts_ms`: DynamoDB's transaction conflicts on
    from the start, each transaction holding its items that many milliseconds (low, high)
    (chalicelib/local/emulated_conflicts.py)."""
    from chalicelib.local.emulated_conflicts import ENVIRONMENT

    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(ENVIRONMENT, None)
    if conflicts_ms is not None:
        env[ENVIRONMENT] = ",".join(str(ms) for ms in conflicts_ms)
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    server = MotoServer(port, process)
    try:
        _wait_until_ready(server, timeout)
    except BaseException:  # also Ctrl-C while waiting: never leave the child behind
        server.stop()
        raise
    return server


def _wait_until_ready(server: MotoServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {server.process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1)
        try:
            connection.request("GET", "/moto-api/")
            connection.getresponse().read()
            return
        except (http.client.HTTPException, OSError):
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"moto server did not answer on port {server.port} within {timeout:.0f}s")


def serve(port: int) -> None:
    """moto's server on 127.0.0.1, one request at a time.

    DynamoDB makes each conditional write and transaction atomic; moto's threaded server does
    not, so two racing invocations could both pass a condition. Serialising requests gives the
    emulator DynamoDB's guarantee, which the auditor's exactly-once logic relies on.
    What moto lacks of ECR is answered in front of it: the replication backfill API
    (chalicelib/local/emulated_backfills.py), DescribeImageReplicationStatus and whole
    replication configurations (chalicelib/local/emulated_replication.py); so are ECS's service
    revisions and task digests and Lambda's resolved image digests (emulated_workloads.py),
    injected throttling or access denied (emulated_faults.py), and, when enabled, DynamoDB's
    transaction conflict rule (emulated_conflicts.py: its holds last outside the lock).
    """
    import threading

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from chalicelib.local import (
        emulated_backfills,
        emulated_conflicts,
        emulated_faults,
        emulated_replication,
        emulated_workloads,
    )

    _query_partitions_only()
    _transactions_back_up_their_items_only()
    _tag_moves_keep_the_previous_image()
    moto = DomainDispatcherApplication(create_backend_app)
    app = emulated_faults.wrap(
        emulated_workloads.wrap(emulated_replication.wrap(emulated_backfills.wrap(moto)))
    )
    service_ms = emulated_conflicts.parse_service_ms(os.environ.get(emulated_conflicts.ENVIRONMENT))
    conflicts = emulated_conflicts.Conflicts(service_ms)
    serialised = emulated_conflicts.wrap(app, threading.Lock(), conflicts)
    run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)


def _query_partitions_only() -> None:
    """A base-table Query reads only its partition, as in DynamoDB.

    moto's Table.query builds and sorts the list of every item of the table on each call
    (Table.all_items), so a query costs ~30 ms at 1,000 items and ~180 ms at 10,000, and a long
    replay grows quadratically. A base-table Query names its partition (the key condition's
    hash key): it is given that partition's items only. Index queries are left as they are.
    Safe because serve() runs one request at a time.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "_partition_only", False):
        return

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        positional_index = args[6] if len(args) > 6 else None
        index_name = kwargs.get("index_name", positional_index)
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: sorted(partition, key=lambda item: item.range_key)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query._partition_only = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


def _transactions_back_up_their_items_only() -> None:
    """TransactWriteItems saves and restores only the items it writes, as in DynamoDB.

    moto backs up a transaction by deep-copying its whole table once per item written, so a
    transaction on a ledger of 20,000 items takes seconds (other requests then time out behind
    it) and a long replay grows quadratically. Here each written item (or its absence) is saved
    before the transaction and put back if moto cancels it; moto's own copy of the table is
    skipped. Safe because serve() runs one request at a time.
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    if getattr(original, "_items_only", False):
        return

    class TablesByReference:
        """moto.dynamodb.models' `copy` module, except that a Table is not copied."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = TablesByReference()  # type: ignore[assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            for op in entry.values():
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None:
                    continue
                key = op.get("Key") or op.get("Item") or {}
                try:
                    hash_key = DynamoType(key[table.hash_key_attr])
                    range_attr = table.range_key_attr
                    range_key = DynamoType(key[range_attr]) if range_attr else None
                except KeyError:
                    continue  # moto refuses it below, before writing anything
                current = table.get_item(hash_key, range_key)
                saved.append((table, hash_key, range_key, copy.deepcopy(current)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if range_key is None:
                    if item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                elif item is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise

    transact_write_items._items_only = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _tag_moves_keep_the_previous_image() -> None:
    """PutImage with a tag another image holds moves the tag; that image stays, untagged.

    That is ECR's behaviour in a mutable repository (hence lifecycle rules for untagged
    images): an ECS service or Lambda function that pinned the old digest can still pull it.
    moto instead deletes the previous image when it held only that tag (it removes the tag
    with BatchDeleteImage, which deletes an image with its last tag, as ECR's does). Here the
    tag is taken off the previous image first; an immutable tag is still refused by moto.
    """
    from moto.ecr.models import ECRBackend

    original = ECRBackend.put_image
    if getattr(original, "_keeps_previous", False):
        return

    def put_image(
        self: Any,
        repository_name: str,
        image_manifest: str,
        image_tag: str,
        image_manifest_mediatype: str | None = None,
        digest: str | None = None,
    ) -> Any:
        repository = self.repositories.get(repository_name)
        if repository is not None and image_tag:
            holders = [
                image
                for image in repository.images
                if image_tag in image.image_tags and image.image_manifest != image_manifest
            ]
            if holders:
                self._resolve_image_tag_mutability(repository, image_tag)  # immutable: refused
                for image in holders:
                    image.remove_tag(image_tag)
                    if not image.image_tags:
                        image.image_tag = None
        return original(
            self, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest
        )

    put_image._keeps_previous = True  # type: ignore[attr-defined]
    ECRBackend.put_image = put_image  # type: ignore[method-assign]


if __name__ == "__main__":
    serve(int(sys.argv[1]))
