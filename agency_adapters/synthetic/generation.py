"""``generate``: build the shared world once, then write each agency's view of it.

Checks every target database first, so a refusal leaves nothing
half-written; builds the ``World``; then, agency by agency in ``AGENCIES``
order, hands that agency's builder its own seeded stream and a loader, and
finally writes the ground truth of the subjects of interest. Left out: what
any agency's rows look like (``customs.py`` ... ``nzsis.py``) and how rows
reach a database (``loader.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import make_url

from agency_adapters.synthetic.build import Build
from agency_adapters.synthetic.customs import build_customs
from agency_adapters.synthetic.immigration import build_immigration
from agency_adapters.synthetic.loader import Loader, check_empty, default_database_url, write_agency
from agency_adapters.synthetic.maritime import build_maritime
from agency_adapters.synthetic.mpi import build_mpi
from agency_adapters.synthetic.nzsis import build_nzsis
from agency_adapters.synthetic.police import build_police
from agency_adapters.synthetic.truth import GroundTruth
from agency_adapters.synthetic.world import World
from fedgate.model import AGENCIES

__all__ = ["GenerationReport", "generate"]


@dataclass(frozen=True, slots=True)
class GenerationReport:
    """What ``generate`` wrote: rows per agency and table, and where the ground truth is."""

    people: int
    seed: int
    row_counts: Mapping[str, Mapping[str, int]]
    subjects_path: Path
    database_urls: Mapping[str, str] = field(default_factory=dict)  # passwords hidden

    @property
    def total_rows(self) -> int:
        return sum(sum(tables.values()) for tables in self.row_counts.values())


def generate(
    data_dir: Path,
    *,
    people: int,
    seed: int,
    database_urls: Mapping[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    replace: bool = False,
) -> GenerationReport:
    """Write every agency's sample database and ``data_dir/subjects_of_interest.json``.

    ``database_urls`` maps agency names to SQLAlchemy URLs; agencies it leaves
    out get ``default_database_url``. A database whose tables already hold
    rows is refused with ``ValueError`` (before anything is written) unless
    ``replace`` is true, which drops and recreates that agency's tables only.
    ``progress(agency, rows)`` is called after each batch with the number of
    rows written for that agency so far.
    """
    if people < 0:
        raise ValueError("people must be zero or more")
    urls = dict(database_urls or {})
    unknown = sorted(set(urls) - set(AGENCIES))
    if unknown:
        raise ValueError(f"unknown agencies in database_urls: {', '.join(unknown)}")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for agency in AGENCIES:
        urls.setdefault(agency, default_database_url(data_dir, agency))

    # Check every target first, so a refusal leaves nothing half-written.
    for agency in AGENCIES:
        check_empty(agency, urls[agency], replace=replace)

    world = World.build(people, seed)
    counts: dict[str, dict[str, int]] = {}
    ground_truth = GroundTruth()
    for agency in AGENCIES:
        rng = random.Random(f"{seed}:{agency}")
        fill = partial(_fill, agency, world, rng, ground_truth)
        counts[agency] = write_agency(agency, urls[agency], fill, progress, replace)

    subjects_path = ground_truth.write(data_dir, people=people, seed=seed)
    shown = {a: make_url(u).render_as_string(hide_password=True) for a, u in urls.items()}
    return GenerationReport(people, seed, counts, subjects_path, shown)


_BUILDERS: dict[str, Callable[[Build], None]] = {
    "customs": build_customs,
    "immigration": build_immigration,
    "mpi": build_mpi,
    "maritime": build_maritime,
    "police": build_police,
    "nzsis": build_nzsis,
}


def _fill(agency: str, world: World, rng: random.Random, truth: GroundTruth, load: Loader) -> None:
    _BUILDERS[agency](Build(world, rng, load, truth, agency))
