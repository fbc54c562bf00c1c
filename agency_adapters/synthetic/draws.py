"""Seeded random draws shared by the world and the agency builders.

A weighted pick from a ``(value, ..., weight)`` table, a day in a range, a
time on a day, an identifier from a letter/digit pattern, and a value not
yet taken. Every function takes the ``random.Random`` to draw from, so the
caller decides which seeded stream a draw consumes; nothing here holds state
or does IO.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

__all__ = ["LETTERS", "day_between", "from_pattern", "moment_on", "unique", "weighted"]


_MAX_DRAWS = 10_000  # bounds the search for an unused identifier; the spaces are far larger

# Pattern alphabets (``from_pattern``): A letter, 9 digit, X letter or digit; a literal otherwise.
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # I and O left out, as many issuers do
_ALNUM = "CFGHJKLMNPRTVWXYZ0123456789"  # the German passport alphabet


def weighted(rng: random.Random, table: Sequence[tuple[Any, ...]]) -> Any:
    """Pick the first element of one row of ``table``, weighted by the row's last element."""
    return rng.choices(table, weights=[row[-1] for row in table])[0][0]


def day_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def moment_on(rng: random.Random, day: date) -> datetime:
    return datetime.combine(
        day, time(rng.randrange(24), rng.choice((0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)))
    )


def from_pattern(rng: random.Random, pattern: str) -> str:
    return "".join(
        rng.choice(LETTERS)
        if c == "A"
        else str(rng.randrange(10))
        if c == "9"
        else rng.choice(_ALNUM)
        if c == "X"
        else c
        for c in pattern
    )


def unique(rng: random.Random, taken: set[str], make: Callable[[random.Random], str]) -> str:
    for _ in range(_MAX_DRAWS):
        value = make(rng)
        if value not in taken:
            taken.add(value)
            return value
    raise RuntimeError(f"no unused value left after {_MAX_DRAWS} draws; the name space is too small")
