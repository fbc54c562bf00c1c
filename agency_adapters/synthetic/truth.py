"""The ground truth of the subjects of interest: what each agency actually stored.

``GroundTruth`` collects, while the agencies are written, each subject's
table, key, stored identity, variant and record ids per agency, and writes
them to ``subjects_of_interest.json``; ``subjects_of_interest`` reads that
file back. Left out: the cast itself (``cast.py``) and the databases.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from agency_adapters.synthetic.cast import SUBJECTS
from fedgate.model import AGENCIES

__all__ = ["SUBJECTS_FILE", "GroundTruth", "iso", "subjects_of_interest"]


SUBJECTS_FILE = "subjects_of_interest.json"


def iso(value: Any) -> Any:
    """A date as its ISO text, as JSON holds it; anything else unchanged."""
    return value.isoformat() if isinstance(value, date) else value


class GroundTruth:
    """Collects, per subject of interest and agency, what was actually stored."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, Any]] = {s.key: {} for s in SUBJECTS}

    def note(
        self,
        key: str,
        agency: str,
        table: str,
        subject_key: str,
        stored: Mapping[str, Any],
        variant: str,
        records: Mapping[str, list[str]],
    ) -> None:
        self._held[key][agency] = {
            "subject_table": table,
            "subject_key": subject_key,
            "variant": variant,
            "stored": dict(stored),
            "records": dict(records),
        }

    def write(self, data_dir: Path, *, people: int, seed: int) -> Path:
        """Write ``data_dir/subjects_of_interest.json`` and return its path."""
        subjects_path = data_dir / SUBJECTS_FILE
        document = {"generated_with": {"people": people, "seed": seed}, "subjects": self.subjects()}
        subjects_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return subjects_path

    def subjects(self) -> list[dict[str, Any]]:
        return [
            {
                "key": s.key,
                "kind": s.kind,
                "canonical": {k: iso(v) for k, v in s.canonical.items()},
                "story": s.story,
                "held_by": {a: self._held[s.key][a] for a in AGENCIES if a in self._held[s.key]},
            }
            for s in SUBJECTS
        ]


def subjects_of_interest(data_dir: Path) -> list[dict[str, Any]]:
    """Read back the subjects-of-interest ground truth written by ``generate``.

    Each entry has ``key`` (``soi-01``), ``kind``, ``canonical`` (the true identity:
    names, ``date_of_birth``, ``passport_number``/``passport_country``; or
    ``imo_number``, ``call_sign``; ``consignment_id``; ``legal_name``,
    ``client_code``, ``nzbn``, ``country``), a one-line ``story``, and
    ``held_by``: per agency the ``subject_table`` and ``subject_key``, the
    ``variant`` in words, the identity as ``stored`` (same names as
    ``canonical``; null where the agency holds nothing) and ``records``, the
    record ids per category.
    """
    document = json.loads((Path(data_dir) / SUBJECTS_FILE).read_text(encoding="utf-8"))
    subjects: list[dict[str, Any]] = document["subjects"]
    return subjects
