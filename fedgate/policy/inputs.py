"""The two decision entrypoints and the plan input document (``policies/README.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

__all__ = ["PLAN_RULE", "RELEASE_RULE", "plan_input"]

PLAN_RULE = "fedgate.plan.decision"
RELEASE_RULE = "fedgate.release.decision"


def plan_input(
    requester: str,
    purpose: str,
    subject_kind: str,
    *,
    emergency: bool,
    today: date,
    agencies: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> dict[str, Any]:
    """The plan input: who asks, why, about what kind of subject, on which New Zealand date."""
    return {
        "requester": requester,
        "purpose": purpose,
        "subject_kind": subject_kind,
        "emergency": emergency,
        "agencies": list(agencies),
        "categories": list(categories),
        "today": today.isoformat(),
    }
