"""Audit log entries: what one entry says, how it is sequenced, how it is read back.

The format is specified in ``docs/audit-log.md``. A :class:`PendingEntry` is an
entry before the sequencer gives it ``seq`` and ``time``, together with the
*openings* of its commitments (which go to the erasable evidence store, never
into the log). :func:`sequenced_bytes` makes the canonical bytes that become
the Merkle leaf. :func:`parse_entry` checks bytes read back (by the verifier)
against the format. No IO here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fedgate.audit.canonical import (
    MAX_CANONICAL_SIZE,
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_bytes,
    parse_canonical,
)
from fedgate.audit.commitments import Opening

__all__ = [
    "ENTRY_KINDS",
    "ENTRY_VERSION",
    "OPENING_NAMES",
    "EntryFormatError",
    "PendingEntry",
    "format_time",
    "parse_entry",
    "parse_time",
    "sequenced_batch",
    "sequenced_bytes",
]

ENTRY_VERSION = 1
ENTRY_KINDS = frozenset({"disclosure", "refusal", "erasure", "key_rotation", "policy_activation"})
#: Names of the commitments an entry may carry, and so of the openings kept as evidence.
OPENING_NAMES = ("subject", "released", "justification")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# _TIME_FORMAT as ``format_time`` writes it: every field zero-padded, ASCII digits only.
_TIME_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z")
_FIRST_PADDED_YEAR = 1000  # strftime's %Y has four digits from here on, on every platform
# The last time parse_time read on its fast path, and what it read (a datetime is immutable).
# It starts as a true pair: an empty or malformed text must never match it.
_last_time: tuple[str, datetime] = ("1970-01-01T00:00:00.000000Z", datetime(1970, 1, 1, tzinfo=UTC))


class EntryFormatError(ValueError):
    """Entry bytes do not follow the format (names the key, never echoes a value)."""


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry before sequencing: everything but ``v``, ``seq`` and ``time``, plus its openings."""

    body: Mapping[str, Any]
    openings: Mapping[str, Opening] = field(default_factory=dict)
    #: The body's canonical encoding, made once here (outside any sequencer lock), as the
    #: three pieces that the sequencer's ``seq`` digits and ``time`` text go between (see
    #: ``_splice``); ``None`` when the body is outside the canonical profile
    #: (``sequenced_bytes`` then refuses it). The body is treated as immutable from here
    #: on, as the frozen dataclass suggests.
    _splice: tuple[bytes, bytes, bytes] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.body.get("kind") not in ENTRY_KINDS:
            raise EntryFormatError("kind: not an entry kind")
        reserved = {"v", "seq", "time"} & set(self.body)
        if reserved:
            raise EntryFormatError(f"{sorted(reserved)[0]}: set by the sequencer, not the caller")
        unknown = set(self.openings) - set(OPENING_NAMES)
        if unknown:
            raise EntryFormatError(f"openings.{sorted(unknown)[0]}: not an opening name")
        object.__setattr__(self, "_splice", _splice(_encode_members(self.body)))


# The sequencer's keys in RFC 8785 order (UTF-16 code units; all ASCII, so also bytewise).
_SEQ_KEY = "seq".encode("utf-16-be")
_TIME_KEY = "time".encode("utf-16-be")
_V_KEY = "v".encode("utf-16-be")
_V_MEMBER = b'"v":' + str(ENTRY_VERSION).encode("ascii")


def _encode_members(body: Mapping[str, Any]) -> tuple[bytes, bytes, bytes, bytes] | None:
    """The canonical members of ``body`` (``"key":value`` joined by commas, no braces), in four runs.

    The runs hold the keys before ``seq``, between ``seq`` and ``time``, between ``time`` and
    ``v``, and after ``v``, in canonical order. An object's canonical encoding is its members,
    each encoded on its own, in key order; so ``{`` + the runs with the three sequencer members
    between them, joined by commas, + ``}`` is the encoding of the whole entry, byte for byte
    (``sequenced_bytes`` checks the size bound, and ``tests/test_audit_speedpaths.py`` compares
    with the reference encoder). ``None`` for a body outside the profile: the sequencer then
    encodes the whole entry, and the encoder refuses it with its path.
    """
    runs: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    try:
        for key, value in body.items():
            order = key.encode("utf-16-be")  # AttributeError for a key that is not a str
            runs[(order > _SEQ_KEY) + (order > _TIME_KEY) + (order > _V_KEY)][key] = value
        encoded = [canonical_bytes(run)[1:-1] for run in runs]
    except (CanonicalError, AttributeError, UnicodeEncodeError):
        return None
    return encoded[0], encoded[1], encoded[2], encoded[3]


def _splice(members: tuple[bytes, bytes, bytes, bytes] | None) -> tuple[bytes, bytes, bytes] | None:
    """The pieces ``head``, ``middle``, ``tail`` of an entry whose members are ``members``.

    ``head + b"%d" % seq + middle + time + tail`` is ``{`` + the four runs with ``"seq":N``,
    ``"time":"T"`` and ``"v":1`` between them, joined by commas (empty runs left out) + ``}``.
    """
    if members is None:
        return None
    before_seq, before_time, before_v, after_v = members
    head = b"{" + (before_seq + b"," if before_seq else b"") + b'"seq":'
    middle = (b"," + before_time if before_time else b"") + b',"time":"'
    tail = (
        b'"'
        + (b"," + before_v if before_v else b"")
        + b","
        + _V_MEMBER
        + (b"," + after_v if after_v else b"")
        + b"}"
    )
    return head, middle, tail


def format_time(moment: datetime) -> str:
    """UTC with microseconds and a ``Z``: the only time form in the log."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _reference_parse_time(text: str) -> datetime:
    """``parse_time`` by its definition: whatever ``format_time`` writes, read back exactly."""
    try:
        moment = datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise EntryFormatError("time: not YYYY-MM-DDTHH:MM:SS.ffffffZ") from None
    if format_time(moment) != text:
        raise EntryFormatError("time: not in canonical form")
    return moment


def parse_time(text: str) -> datetime:
    """Read a time in the one form ``format_time`` writes; ``EntryFormatError`` for anything else.

    A time the pattern matches is read directly, which is what ``_reference_parse_time``
    (strptime, then a check that formatting gives the text back) accepts and returns for
    it. Anything else goes to the reference, which decides and words the refusal: years
    before 1000 (strftime writes them unpadded on glibc, so whether they read back depends
    on the platform), dates that do not exist, and every malformed text.
    """
    global _last_time
    last = _last_time  # one read: another thread may replace it meanwhile
    if type(text) is str:
        if text == last[0]:
            return last[1]  # a batch shares one time, so the sequencer and verifier repeat it
        match = _TIME_PATTERN.fullmatch(text)
        if match is not None:
            year, month, day, hour, minute, second, microsecond = map(int, match.groups())
            if year >= _FIRST_PADDED_YEAR:
                try:
                    moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
                except ValueError:
                    pass  # no such date or time: the reference words the refusal
                else:
                    _last_time = (text, moment)
                    return moment
    return _reference_parse_time(text)


def sequenced_bytes(pending: PendingEntry, seq: int, time: str) -> bytes:
    """The canonical bytes of ``pending`` as entry ``seq``, sequenced at ``time``."""
    if type(seq) is not int and seq >= 0:  # a bool, say: the reference encoder decides
        parse_time(time)
        return canonical_bytes({**pending.body, "v": ENTRY_VERSION, "seq": seq, "time": time})
    return sequenced_batch((pending,), seq, time)[0]


def sequenced_batch(pending: Sequence[PendingEntry], first_seq: int, time: str) -> list[bytes]:
    """The canonical bytes of each of ``pending`` as entries ``first_seq``, ``first_seq + 1``, ...

    All sequenced at ``time``, as the sequencer does a batch; the same bytes, one by one, as
    ``sequenced_bytes``. ``time`` is checked once, and each entry is its pieces spliced
    around its ``seq`` and the time, unless it is outside the spliced form (a body
    outside the profile, a ``seq`` past the profile's integers, a time needing escapes),
    where the reference encoder decides, and refuses what it must.
    """
    if first_seq < 0:
        raise ValueError("seq must not be negative")
    parse_time(time)
    # The spliced form needs plain ints (not a bool) within the profile, and a time in the
    # form ``format_time`` writes (ASCII without anything to escape).
    if type(first_seq) is not int:
        raise TypeError("first_seq must be an int")
    spliced = first_seq + len(pending) - 1 <= MAX_SAFE_INTEGER and _TIME_PATTERN.fullmatch(time) is not None
    time_bytes = time.encode("ascii") if spliced else b""
    out: list[bytes] = []
    append = out.append
    for seq, item in enumerate(pending, start=first_seq):
        pieces = item._splice
        if spliced and pieces is not None:
            data = b"%b%d%b%b%b" % (pieces[0], seq, pieces[1], time_bytes, pieces[2])
            if len(data) <= MAX_CANONICAL_SIZE:
                append(data)
                continue
        append(canonical_bytes({**item.body, "v": ENTRY_VERSION, "seq": seq, "time": time}))
    return out


def parse_entry(data: bytes) -> dict[str, Any]:
    """Read entry bytes: canonical JSON, an object, version 1, with ``seq``, ``time`` and a known ``kind``."""
    try:
        value = parse_canonical(data)
    except CanonicalError as exc:
        raise EntryFormatError(f"not canonical JSON ({exc})") from None
    if not isinstance(value, dict):
        raise EntryFormatError("entry: not a JSON object")
    version = value.get("v")
    if version != ENTRY_VERSION or isinstance(version, bool):  # True == 1 in Python
        raise EntryFormatError("v: unsupported entry version")
    seq = value.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise EntryFormatError("seq: not a non-negative integer")
    if not isinstance(value.get("time"), str):
        raise EntryFormatError("time: missing")
    parse_time(value["time"])
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in ENTRY_KINDS:
        raise EntryFormatError("kind: not an entry kind")
    return value
