"""How long to wait before trying again a write that DynamoDB refused because another request
held one of its items (a transaction conflict) or because it throttled: "full jitter"
exponential backoff, so that the writers that collided do not collide again in step."""

from __future__ import annotations

BASE_SECONDS = 0.01  # about one DynamoDB transaction's time
CAP_SECONDS = 1.0


def delay(attempt: int, draw: float, base: float = BASE_SECONDS, cap: float = CAP_SECONDS) -> float:
    """The wait before retry number `attempt` (0 for the first retry); `draw` is uniform in
    [0, 1). Between 0 and base * 2**attempt, never more than `cap`."""
    return draw * min(cap, base * 2 ** min(attempt, 30))
