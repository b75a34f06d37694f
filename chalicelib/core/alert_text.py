"""The words of an alert for people, shared by its chat renderings (alert_formats.py): each
field as text, the title and detail lines, and the next steps per kind (what to check first,
the runbook). Pure functions of one alert document; no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core.documents import CAUSE_TEXT, TAG_REMOVED, short_digest
from chalicelib.core.workloads import pinned_next_steps

EMOJI = {"critical": "🔴", "warning": "🟠", "info": "✅"}
ELLIPSIS = "…"

# Slack Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_FIELDS_MAX = 10
SLACK_BLOCKS_MAX = 50
# Readable widths inside the two-column field grid; the code block carries the full values.
FIELD_VALUE_MAX = 120
REASON_MAX = 500
# No single context value may make a chat message unwieldy or the SNS body approach 256 KB.
CONTEXT_VALUE_MAX = 2000


# ----------------------------------------------------------------------------- text helpers


def _utf16_units(char: str) -> int:
    # Slack counts characters as JavaScript does: an astral emoji is two units.
    return 2 if ord(char) > 0xFFFF else 1


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 units, marked with an ellipsis when cut."""
    if sum(_utf16_units(c) for c in text) <= limit:
        return text
    kept: list[str] = []
    used = len(ELLIPSIS)
    for char in text:
        used += _utf16_units(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def escape(text: str) -> str:
    # Slack mrkdwn and chat markdown treat &, < and > as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str, limit: int = FIELD_VALUE_MAX) -> str:
    """An inline code span; a backtick inside would end it early."""
    inner = escape(clip(text, limit)).replace("`", "'")
    return f"`{inner}`"


def location_text(location: Mapping[str, str] | None) -> str:
    return f"{location['account']}/{location['region']}" if location else "unknown"


def place(location: Mapping[str, str] | None, names: Mapping[str, str] | None = None) -> str:
    """`prod 222222222222/eu-west-1` where LOCATION_NAMES names the location, else the ids."""
    where = location_text(location)
    name = (names or {}).get(where) if location else None
    return f"{name} {where}" if name else where


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping) and {"account", "region"} <= value.keys():
        return location_text(value)
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def repository_arn(repository: str, location: Mapping[str, str] | None) -> str | None:
    """The ECR repository ARN at a location, in the partition its region belongs to."""
    if not location or not location.get("account") or not location.get("region"):
        return None
    region = location["region"]
    partition = (
        "aws-cn"
        if region.startswith("cn-")
        else "aws-us-gov"
        if region.startswith("us-gov-")
        else "aws"
    )
    return f"arn:{partition}:ecr:{region}:{location['account']}:repository/{repository}"


# ----------------------------------------------------------------------------- shared content


def title(alert: Mapping[str, Any], limit: int) -> str:
    emoji = EMOJI.get(alert["severity"], "")
    # Kind first, so a clip only ever shortens the repository.
    return clip(f"{emoji} {alert['kind']}: {alert['repository']}", limit)


def details(
    alert: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """(label, mrkdwn value) pairs that apply to this alert, in reading order."""
    kind = alert["kind"]
    rows: list[tuple[str, str]] = []
    if alert["tag"]:
        rows.append(("Tag", code(alert["tag"])))
    drift = kind == "TAG_DRIFT" or alert.get("resolves") == "TAG_DRIFT"
    rows.append(("Source digest" if drift else "Digest", code(short_digest(alert["digest"]))))
    if drift:
        there = alert["previous_digest"]
        rows.append(("Destination digest", code(short_digest(there)) if there else "no image"))
    elif alert["previous_digest"]:
        rows.append(("Previous digest", code(short_digest(alert["previous_digest"]))))
    if alert["source"] or kind != "PINNED_DIGEST_MISSING":
        there = (
            f"{code(place(alert['source'], names))} → {code(place(alert['destination'], names))}"
        )
        rows.append(("Source → Destination", there))
    else:
        rows.append(("Location", code(place(alert["destination"], names))))
    if alert["pushed_at"]:
        rows.append(("Tag moved" if kind == "TAG_OVERWRITTEN" else "Pushed", alert["pushed_at"]))
    if alert["due_at"]:
        rows.append(("Due", alert["due_at"]))
    if alert["detected_at"]:
        rows.append(("Recovered" if kind == "RECOVERED" else "Detected", alert["detected_at"]))
    if alert["cause"]:
        text = CAUSE_TEXT.get(alert["cause"], alert["cause"])
        rows.append(("Cause", f"{escape(text)} ({code(alert['cause'])})"))
    if alert["resolves"]:
        rows.append(("Resolves", code(alert["resolves"])))
    if isinstance(alert["lag_seconds"], int):
        rows.append(("Replication lag", _duration(alert["lag_seconds"])))
    if alert["failure_reason"]:
        rows.append(("Failure reason", escape(clip(alert["failure_reason"], REASON_MAX))))
    return rows


def runbook_link(alert: Mapping[str, Any]) -> str | None:
    """The alert's runbook_url, when it is one a message may carry as a link."""
    url = alert.get("runbook_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    return None if any(c in url for c in " <>|\n") else url


def next_steps(alert: Mapping[str, Any]) -> list[str]:
    """Concrete things to check for this alert, with commands ready to paste; then the runbook."""
    url = runbook_link(alert)
    return _checks(alert) + ([f"Runbook: {url}"] if url else [])


def _checks(alert: Mapping[str, Any]) -> list[str]:
    kind = alert["kind"]
    if kind == "RECOVERED":
        return ["No action needed."]
    if kind == "PINNED_DIGEST_MISSING":
        return pinned_next_steps(alert)
    repo, digest, tag = alert["repository"], alert["digest"], alert["tag"]
    source, dest = alert["source"] or {}, alert["destination"] or {}
    src_account, src_region = source.get("account", "SOURCE"), source.get("region", "REGION")
    dst_account, dst_region = dest.get("account", "DEST"), dest.get("region", "REGION")
    status = (
        f"In the source account {src_account}: `aws ecr describe-image-replication-status "
        f"--registry-id {src_account} --repository-name {repo} "
        f"--image-id imageDigest={digest} --region {src_region}`"
    )
    arrived = (
        f"In the destination account {dst_account}: `aws ecr describe-images "
        f"--repository-name {repo} --image-ids imageDigest={digest} --region {dst_region}`"
    )
    policy = (
        f"Destination registry policy (`aws ecr get-registry-policy --region {dst_region}` in "
        f"{dst_account}) must allow account {src_account} `ecr:ReplicateImage` and "
        f"`ecr:CreateRepository` (without it, `{repo}` must already exist there)."
    )
    if kind == "REPLICA_MISSING":
        return [
            status,
            arrived,
            f"Source replication rules (`aws ecr describe-registry --region {src_region}` in "
            f"{src_account}) must still name {dst_account}/{dst_region} and match `{repo}`.",
            policy,
            "Both accounts must be opted in to both regions; replication never crosses "
            "partitions and does not chain.",
        ]
    if kind == "REPLICATION_FAILED":
        return [
            policy,
            f"CloudTrail in {dst_account}/{dst_region}: look for failed `ReplicateImage` or "
            "`CreateRepository` calls (`aws cloudtrail lookup-events --lookup-attributes "
            f"AttributeKey=EventName,AttributeValue=ReplicateImage --region {dst_region}`).",
            status,
            "ECR replicates once per push: after fixing the cause, push the image again at the "
            "source (a new tag will do); this incident recovers when the replica arrives.",
        ]
    if kind == "TAG_DRIFT":
        there = alert["previous_digest"]
        return [
            f"`{repo}:{tag}` names `{digest}` in {src_account}/{src_region} but "
            + (f"`{there}`" if there else "no image")
            + f" in {dst_account}/{dst_region}.",
            f"Tag immutability in the destination is the documented cause (ECR replicates the "
            f"image without the duplicated tag): `aws ecr describe-repositories "
            f"--repository-names {repo} --region {dst_region}` in {dst_account} shows "
            "`imageTagMutability` and its exclusion filters.",
            f"To converge, move the tag there (mutable repository, or a "
            f"`IMMUTABLE_WITH_EXCLUSION` filter matching `{tag}`): `aws ecr batch-get-image "
            f"--repository-name {repo} --image-ids imageDigest={digest}` for its manifest, then "
            f"`aws ecr put-image --image-tag {tag}`; or deploy by digest instead of by tag.",
            "This incident recovers when the destination tag names the source's digest, or "
            "when the source tag moves on or is deleted.",
        ]
    if kind == "DELETE_NOT_REPLICATED" and alert["cause"] == TAG_REMOVED:
        return [
            f"The tag `{repo}:{tag}` was removed from `{digest}` in {src_account}/{src_region} "
            f"under a rule that replicates deletions (tag removals included), and still names "
            f"it in {dst_account}/{dst_region}: `aws ecr describe-images --repository-name "
            f"{repo} --image-ids imageTag={tag} --region {dst_region}`.",
            f"Check the rule still replicates deletions: `aws ecr describe-registry --region "
            f"{src_region}` in {src_account} (`deleteReplication.enabled`).",
            f"Remove the tag by hand if it must go (the image stays while another tag names "
            f"it): `aws ecr batch-delete-image --repository-name {repo} --image-ids "
            f"imageTag={tag} --region {dst_region}` in {dst_account}.",
            "This incident recovers when the tag is gone there, or when the source pushes it "
            "again.",
        ]
    if kind == "DELETE_NOT_REPLICATED":
        image = f"{repo}:{tag}" if tag else f"{repo}@{digest}"
        return [
            f"`{image}` was deleted in {src_account}/{src_region} under a rule that replicates "
            f"deletions, and is still in {dst_account}/{dst_region}: `aws ecr describe-images "
            f"--repository-name {repo} --image-ids imageDigest={digest} --region {dst_region}`.",
            f"Check the rule still replicates deletions: `aws ecr describe-registry --region "
            f"{src_region}` in {src_account} (`deleteReplication.enabled`).",
            f"Delete it by hand if it must go: `aws ecr batch-delete-image --repository-name "
            f"{repo} --image-ids imageDigest={digest} --region {dst_region}` in {dst_account}.",
        ]
    image = f"{repo}:{tag}" if tag else repo
    look = (
        f"Compare `aws ecr batch-get-image --repository-name {repo} --image-ids imageTag={tag} "
        f"--region {dst_region}` in {dst_account} with the source."
    )
    cause = alert["cause"]
    if cause == "replication_overwrote_local_tag":
        return [
            f"`{image}` was pushed in {dst_account}/{dst_region} and replication from "
            f"{src_account}/{src_region} moved it; the previous image stays reachable as "
            f"`{repo}@{alert['previous_digest']}` until a lifecycle policy expires it untagged.",
            "If the destination owns this tag, use tags the source does not replicate or narrow "
            "the source's repository filters.",
            "Tag immutability on the destination (repository creation template) stops the "
            "overwrite, but then replicated tags stop moving there too.",
        ]
    if cause == "local_push_overwrote_replica_tag":
        return [
            f"Someone pushed `{image}` directly in {dst_account}/{dst_region}; it now differs from "
            f"{src_account}/{src_region}. Find the `PutImage` call in CloudTrail there.",
            f"To converge, retag the replicated image `{repo}@{alert['previous_digest']}` as "
            f"`{tag}` there (`aws ecr batch-get-image` for its manifest, then `aws ecr put-image "
            f"--image-tag {tag}`).",
            "Restrict `ecr:PutImage` on replicated repositories in the destination account.",
        ]
    if cause == "replication_from_another_source":
        return [
            f"More than one source replicates `{repo}` to {dst_account}/{dst_region} and both "
            f"push `{tag}`; the latest was from {src_account}/{src_region}.",
            "Give each source distinct repository prefix filters or distinct tags "
            "(`aws ecr describe-registry` in each source).",
            look,
        ]
    return [look]
