"""The status as people read it in a terminal (the `status` command and the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    return [
        indent + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


def render_status(status: dict[str, Any], repositories: dict[str, Any] | None = None) -> str:
    """The status as people read it; with `repositories`, each newest image's replicas too."""
    from chalicelib.core.alert_text import place

    names = status.get("names") or {}
    counts = status["counts"]
    lines = [
        f"ECR replication status as of {status['as_of']}: "
        + ("HEALTHY" if status["healthy"] else "UNHEALTHY"),
        (
            f"pending {counts['pending']}   missing {counts['missing']}   "
            f"failed {counts['failed']}   drifted {counts.get('drifted', 0)}   "
            f"undeleted {counts.get('undeleted', 0)}   "
            f"replicated (24h) {counts['replicated_24h']}   "
            f"overwritten (24h) {counts['overwritten_24h']}"
        ),
        "",
        f"Open incidents: {status['open_incidents']}",
    ]
    rows: list[tuple[str, ...]] = [
        (
            i["kind"],
            i["repository"],
            i["tag"] or "-",
            place(i["destination"], names) if i["destination"] else "-",
            i["detected_at"],
        )
        for i in status["incidents"]
    ]
    if rows:
        lines += _table(("KIND", "REPOSITORY", "TAG", "DESTINATION", "DETECTED"), rows)
    if len(rows) < status["open_incidents"]:
        lines.append(
            f"(showing the newest {len(rows)} of {status['open_incidents']}; "
            "GET /incidents lists them all)"
        )
    if repositories is not None:
        matrix = _replica_rows(repositories, {**names, **(repositories.get("names") or {})})
        lines += ["", "Replicas of each repository's newest image:"]
        if matrix:
            header = ("REPOSITORY", "NEWEST TAG", "DESTINATION", "STATE", "LAG")
            lines += _table(header, matrix, indent="  ")
        elif repositories["repositories"]:
            # Replicas are recorded, but no rule of this configuration names a destination
            # for them: say so rather than "none", which the counts above would contradict.
            recorded = len(repositories["repositories"])
            lines.append(
                "  none to show: no replication rule here names a destination for the "
                f"{recorded} {'repository' if recorded == 1 else 'repositories'} recorded "
                "(set REPLICATION_CONFIG or REPLICATION_SOURCES as the deployed stage has them)"
            )
        else:
            lines.append("  none recorded yet (no push matched a replication rule)")
    return "\n".join(lines)


def _replica_rows(repositories: dict[str, Any], names: dict[str, str]) -> list[tuple[str, ...]]:
    from chalicelib.core.alert_text import place

    rows: list[tuple[str, ...]] = []
    for repo in repositories["repositories"]:
        for cell in repo["destinations"]:
            lag = cell.get("lag_seconds")
            rows.append(
                (
                    repo["repository"],
                    cell["tag"] or "-",
                    place(cell["destination"], names),
                    cell["state"],
                    f"{lag // 60} min" if isinstance(lag, int) else "-",
                )
            )
    return rows
