"""Read events back from a dead-letter queue (EventBridge's or Lambda's), deliver each, and
delete from the queue only what was delivered: what fails stays for another try."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# EventBridge's DLQ message attributes, then Lambda's on-failure attributes.
ERROR_ATTRIBUTES = ("ERROR_MESSAGE", "ERROR_CODE", "ErrorMessage", "ErrorCode")
VISIBILITY_SECONDS = 300  # a message kept is not seen again during this run


@dataclass
class DeadLetter:
    message_id: str
    receipt: str
    event: Any  # the original event, or None when the body is not JSON
    why_dead: str | None  # what EventBridge or Lambda recorded, if anything


def read(sqs: Any, queue_url: str) -> Iterator[DeadLetter]:
    """Every message of the queue once (messages kept stay invisible for a while)."""
    seen: set[str] = set()
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
        )
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            return
        for message in messages:
            seen.add(message["MessageId"])
            try:
                event = json.loads(message["Body"])
            except json.JSONDecodeError:
                event = None
            attributes = message.get("MessageAttributes") or {}
            why = "; ".join(
                f"{name}={attributes[name].get('StringValue')}"
                for name in ERROR_ATTRIBUTES
                if name in attributes
            )
            yield DeadLetter(message["MessageId"], message["ReceiptHandle"], event, why or None)


def settle(sqs: Any, queue_url: str, letter: DeadLetter) -> None:
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=letter.receipt)


def replay_queue(
    sqs: Any, queue_url: str, deliver: Callable[[Any], Any], report: Callable[[str], None]
) -> dict[str, int]:
    """Deliver every dead letter; delete those delivered, ignored or unmatched; keep the rest."""
    counts = dict.fromkeys(("delivered", "rejected", "ignored", "unmatched", "failed"), 0)
    for number, letter in enumerate(read(sqs, queue_url), 1):
        where = f"[{number}] message {letter.message_id}"
        if letter.event is None:
            counts["rejected"] += 1
            report(f"{where}: kept: the body is not JSON")
            continue
        try:
            delivery = deliver(letter.event)
        except Exception as error:  # the handler failed again: the message stays queued
            counts["failed"] += 1
            report(f"{where}: kept: the handler failed again: {type(error).__name__}: {error}")
            continue
        counts[delivery.outcome] += 1
        if delivery.outcome == "rejected":
            report(f"{where}: kept: rejected: {delivery.reason}")
            continue
        settle(sqs, queue_url, letter)
        died = f" (it had failed with {letter.why_dead})" if letter.why_dead else ""
        report(f"{where}: {delivery.outcome}, deleted from the queue{died}")
    return counts
