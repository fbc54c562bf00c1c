"""Write an auditor's export (``docs/audit-log.md``) from a live audit store.

Reads the store in chunks and streams into ``fedgate.audit.export.write_export``
(``checkpoints.jsonl`` holds every checkpoint, however many batches the log has);
only entries, checkpoints and openings up to one consistent size are exported,
so appends racing with the export do not tear it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fedgate.audit.export import write_export
from gateway.audit_store import AuditStore

__all__ = ["EXPORT_CHUNK", "export_store"]

#: Entries read from the store per query while exporting (bounds memory).
EXPORT_CHUNK = 10_000


def export_store(store: AuditStore, directory: Path) -> tuple[int, int]:
    """Export the log as of now into ``directory``; return (entries, checkpoints) written.

    The manifest lists every key the log has used, first key first: auditors trust the
    first and the verifier follows the key rotations recorded in the log.
    """
    size = store.size()
    log_keys = store.log_keys()

    def entries() -> Iterator[bytes]:
        for start in range(0, size, EXPORT_CHUNK):
            yield from store.entries(start, min(size, start + EXPORT_CHUNK))

    checkpoints = [(s, note) for s, note in store.checkpoints() if s <= size]
    write_export(
        directory,
        origin=store.origin,
        log_keys=log_keys,
        entries=entries(),
        checkpoints=checkpoints,
        evidence=(row for row in store.all_openings() if row[0] < size),
    )
    return size, len(checkpoints)
