"""Erasure of evidence under authority: an ``erasure`` entry in the log, then the openings deleted.

A ``disclosure`` or ``refusal`` entry commits to personal data; the evidence store holds
the openings (``docs/audit-log.md``, "Evidence"). Erasing an opening (a court order, a
retention schedule) deletes its row and leaves behind, in the log, an ``erasure`` entry
naming the entry, the openings, the authority and who asked. The commitments, and every
Merkle proof over them, stay valid; only the means to open them is gone.

The steps, in this order on purpose:

1. refuse, before writing anything, an unknown seq, an entry that is not a lookup entry
   (``disclosure`` or ``refusal``; other kinds hold no openings), an empty or oversized
   ``authority`` or ``requested_by``, and a request that would erase nothing;
2. append every ``erasure`` entry (one per erased entry, naming the openings held at
   step 1) in one batch, durably committed;
3. only then delete the openings;
4. ask the store to purge the older copies of the deleted bytes that it still keeps (SQLite:
   the pages in its write-ahead log, see ``SQLAuditStore.purge_erased``); the result says
   whether it could.

If step 2 fails nothing is deleted. If the process dies between 2 and 3, the log records
an erasure of openings still held: the verifier reports that as a *warning* (the erasure
was not carried out) and running the erasure again finishes it (with a second erasure
entry). The other order would leave, after a crash, openings missing with no record of
who removed them or why: an EVIDENCE failure of the log (exit 14) and an unaccountable
deletion. A concurrent erasure of the same entry can make two erasure entries name the
same opening; both are true statements, and the verifier accepts them.

``authority`` and ``requested_by`` are written in clear into a log that is kept for
ever: they should be references (an order number, a role), not personal data.

All IO goes through the store passed in (``ErasureStore``, met by
``gateway.audit_store.SQLAuditStore``); nothing here opens a file or a connection, and
nothing here reads or returns an opening's value.

Errors::

    Exception
     └── ErasureError           base class
          ├── ErasureRefused    refused at step 1; nothing was written
          └── ErasureIncomplete the erasure entries are in the log, but deleting some
                                openings failed (step 3): run the erasure again

A store failure at step 2 propagates as the store raises it (nothing was deleted).
Messages name seqs and opening names, never a value.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fedgate.audit.commitments import Opening
from fedgate.audit.entry import OPENING_NAMES, EntryFormatError, PendingEntry, parse_entry

__all__ = [
    "LOOKUP_KINDS",
    "MAX_AUTHORITY_LENGTH",
    "MAX_ERASURES_PER_BATCH",
    "MAX_REQUESTED_BY_LENGTH",
    "SCAN_CHUNK",
    "Erasure",
    "ErasureError",
    "ErasureIncomplete",
    "ErasureRefused",
    "ErasureResult",
    "ErasureStore",
    "erase_entries",
    "erase_subject",
    "find_tagged_entries",
]

#: The entry kinds that hold commitments, and so openings that can be erased.
LOOKUP_KINDS = frozenset({"disclosure", "refusal"})
MAX_AUTHORITY_LENGTH = 500  # a court order or schedule reference with its title, not a judgment
MAX_REQUESTED_BY_LENGTH = 200  # a role or office and a reference; kept in clear for ever
#: Erasure entries per ``append_batch``: within the store's own bound (10 000), and small
#: enough that one subject's erasure holds the sequencer lock only briefly.
MAX_ERASURES_PER_BATCH = 1_000
SCAN_CHUNK = 10_000  # entries read from the store per query while scanning for a subject's tags


class ErasureError(Exception):
    """An erasure was refused or did not finish; the message names seqs, never values."""


class ErasureRefused(ErasureError):
    """Refused before anything was written: nothing in the log or the evidence store changed."""


class ErasureIncomplete(ErasureError):
    """The erasure entries are in the log but some openings are still held; run the erasure again.

    ``result`` holds the erasure entries that were appended.
    """

    def __init__(self, message: str, result: ErasureResult) -> None:
        super().__init__(message)
        self.result = result


class _Receipt(Protocol):
    @property
    def log_index(self) -> int: ...


class ErasureStore(Protocol):
    """The part of the audit store an erasure uses (``gateway.audit_store.AuditStore`` has it all)."""

    def size(self) -> int: ...

    def entries(self, start: int, end: int) -> list[bytes]: ...

    def openings(self, seq: int) -> dict[str, Opening]: ...

    def append_batch(self, pending: Sequence[PendingEntry]) -> Sequence[_Receipt]: ...

    def delete_openings(self, seq: int, names: Sequence[str]) -> list[str]: ...

    def purge_erased(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Erasure:
    """Entry ``seq`` lost these ``openings``; ``erasure_seq`` is the erasure entry saying so."""

    seq: int
    openings: tuple[str, ...]
    erasure_seq: int


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What one erasure did: the entries erased, and those asked for that held nothing to erase.

    ``purged``: the store also removed the older copies of the erased bytes it kept (step 4);
    ``False`` where it could not (busy readers, a PostgreSQL store) or failed to.
    """

    erased: tuple[Erasure, ...]
    nothing_held: tuple[int, ...] = ()
    purged: bool = False


def _reference(value: str, option: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise ErasureRefused(f"{option} is required and must not be blank")
    if len(text) > limit:
        raise ErasureRefused(f"{option} must be at most {limit} characters")
    # Control and format characters (bidirectional overrides among them) would let the
    # text shown to an auditor differ from the text in the log.
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in text):
        raise ErasureRefused(f"{option} must not hold control or formatting characters")
    return text


def _names(openings: Iterable[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(openings))
    if not names:
        raise ErasureRefused("name at least one opening to erase")
    unknown = sorted(set(names) - set(OPENING_NAMES))
    if unknown:
        raise ErasureRefused(f"{unknown[0]!r} is not an opening name ({', '.join(OPENING_NAMES)})")
    return names


def _lookup_entry(store: ErasureStore, seq: int, size: int) -> None:
    if not 0 <= seq < size:
        held = f"entries 0 to {size - 1}" if size else "no entries"
        raise ErasureRefused(f"entry {seq} does not exist (the log holds {held})")
    try:
        kind = parse_entry(store.entries(seq, seq + 1)[0])["kind"]
    except EntryFormatError as exc:
        raise ErasureRefused(f"entry {seq} cannot be read as an entry ({exc})") from None
    if kind not in LOOKUP_KINDS:
        raise ErasureRefused(
            f"entry {seq} is not a disclosure or refusal entry (it is {kind}); it has no openings"
        )


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def erase_entries(
    store: ErasureStore,
    seqs: Iterable[int],
    *,
    authority: str,
    requested_by: str,
    openings: Iterable[str] = OPENING_NAMES,
) -> ErasureResult:
    """Erase the named ``openings`` (default: all) of the lookup entries ``seqs``; see the module steps.

    Every seq is checked before anything is written (``ErasureRefused`` if any is unknown
    or not a lookup entry). Entries that hold none of the named openings any more are
    skipped and listed in ``nothing_held``; if that is all of them, the erasure is refused.
    """
    authority = _reference(authority, "authority", MAX_AUTHORITY_LENGTH)
    requested_by = _reference(requested_by, "requested_by", MAX_REQUESTED_BY_LENGTH)
    names = _names(openings)
    targets = sorted(set(seqs))
    if not targets:
        raise ErasureRefused("name at least one entry to erase")
    # Step 1.
    size = store.size()
    for seq in targets:
        _lookup_entry(store, seq, size)
    held: list[tuple[int, tuple[str, ...]]] = []
    nothing_held: list[int] = []
    for seq in targets:
        present = sorted(name for name in names if name in store.openings(seq))
        if present:
            held.append((seq, tuple(present)))
        else:
            nothing_held.append(seq)
    if not held:
        raise ErasureRefused(
            f"nothing to erase: none of the openings {', '.join(names)} is held for "
            f"{_seq_list(nothing_held)} (already erased, or never held)"
        )
    # Step 2: durable before anything is deleted.
    erased: list[Erasure] = []
    for batch in _batches(held, MAX_ERASURES_PER_BATCH):
        pending = [
            PendingEntry(
                body={
                    "kind": "erasure",
                    "erases": {"seq": seq, "openings": list(present)},
                    "authority": authority,
                    "requested_by": requested_by,
                }
            )
            for seq, present in batch
        ]
        receipts = store.append_batch(pending)
        erased.extend(
            Erasure(seq, present, receipt.log_index)
            for (seq, present), receipt in zip(batch, receipts, strict=True)
        )
    result = ErasureResult(tuple(erased), tuple(nothing_held))
    # Step 3.
    failed: list[int] = []
    for erasure in erased:
        try:
            store.delete_openings(erasure.seq, erasure.openings)
        except Exception:  # whatever failed, the caller must learn the erasure is unfinished
            failed.append(erasure.seq)
    if failed:
        raise ErasureIncomplete(
            f"the erasure entries are in the log, but the openings of {_seq_list(failed)} could not be "
            "deleted; run the erasure again",
            result,
        )
    # Step 4.
    try:
        purged = store.purge_erased()
    except Exception:  # the erasure itself is done; only the old copies may linger
        purged = False
    return dataclasses.replace(result, purged=purged)


def find_tagged_entries(store: ErasureStore, tags: Collection[str], *, chunk: int = SCAN_CHUNK) -> list[int]:
    """Seqs of the lookup entries whose ``subject.tags`` hold any of ``tags`` (lower-case hex).

    The whole log is read, ``chunk`` entries per query. An entry that cannot be read
    raises ``ErasureRefused``: a scan that skipped it could miss the subject.
    """
    wanted = frozenset(tags)
    found: list[int] = []
    size = store.size()
    for start in range(0, size, chunk):
        for seq, data in enumerate(store.entries(start, min(size, start + chunk)), start=start):
            try:
                entry = parse_entry(data)
            except EntryFormatError as exc:
                raise ErasureRefused(f"entry {seq} cannot be read as an entry ({exc})") from None
            if entry["kind"] not in LOOKUP_KINDS:
                continue
            subject = entry.get("subject")
            entry_tags = subject.get("tags") if isinstance(subject, dict) else None
            if not isinstance(entry_tags, list):
                raise ErasureRefused(f"entry {seq} has no readable subject tags")
            if any(isinstance(tag, str) and tag in wanted for tag in entry_tags):
                found.append(seq)
    return found


def erase_subject(
    store: ErasureStore,
    tags: Collection[str],
    *,
    authority: str,
    requested_by: str,
    openings: Iterable[str] = OPENING_NAMES,
) -> ErasureResult:
    """Erase the named ``openings`` of every lookup entry tagged with any of the subject's ``tags``.

    ``tags`` are the subject's tags as the gateway computes them (lower-case hex of
    ``commitments.subject_tag`` over ``identifier_tag_inputs``). Matching is exact:
    entries made under another spelling of a name carry other tags and are not erased.
    ``ErasureRefused`` if no entry carries the tags or every one is erased already.
    """
    if not tags:
        raise ErasureRefused("give at least one identifier of the subject")
    # The references are checked before the (long) scan, so a typo fails fast.
    _reference(authority, "authority", MAX_AUTHORITY_LENGTH)
    _reference(requested_by, "requested_by", MAX_REQUESTED_BY_LENGTH)
    _names(openings)
    seqs = find_tagged_entries(store, tags)
    if not seqs:
        raise ErasureRefused("nothing to erase: no disclosure or refusal entry carries the subject's tags")
    return erase_entries(store, seqs, authority=authority, requested_by=requested_by, openings=openings)


def _seq_list(seqs: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(str(seq) for seq in seqs[:limit])
    more = f" and {len(seqs) - limit} more" if len(seqs) > limit else ""
    return f"entr{'y' if len(seqs) == 1 else 'ies'} {shown}{more}"
