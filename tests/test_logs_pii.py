"""Logs carry no personal data, and carry what operations needs (operations issue, item 3).

`fedgate demo` runs as a process with JSON logs at debug level, every line it writes is
collected, and none may contain a name, a date of birth or a document number of anyone in
the data it generated: every subject of interest (canonical identifiers and each agency's
stored variant) and every person in the six agencies' databases. The lookup log lines must
carry the request id, the requesting agency, the purpose, each agency's status and the
duration.

The demo's human output on stdout is the demo's user interface and shows the answers (names
included) on purpose; the logs are structlog's JSON lines on stderr, and any JSON line on
stdout would be checked too. The check is proven able to see a leak: it finds the subjects'
identifiers in that stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agency_adapters.mapping import default_mapping_path, load_mapping
from fedgate.demo import SCENARIOS
from fedgate.model import AGENCIES, SubjectKind

pytestmark = pytest.mark.slow

# The real CLI entry point: `fedgate demo` honours FEDGATE_LOG_LEVEL and FEDGATE_LOG_FORMAT
# (the lookup-line test below fails if it did not).
_DEMO = "from fedgate.cli import main; main()"

#: Identifier fields of the subjects of interest that are personal or identify a subject.
_IDENTIFYING = (
    "given_names",
    "family_name",
    "date_of_birth",
    "passport_number",
    "imo_number",
    "vessel_name",
    "call_sign",
    "consignment_id",
    "importer_client_code",
    "client_code",
    "nzbn",
    "legal_name",
)
_STATUSES = {"DISCLOSED", "PARTIAL", "NO_MATCH", "REFUSED", "UNAVAILABLE", "TIMEOUT"}


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    base: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    base = tmp_path_factory.mktemp("logs-pii") / "demo"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDGATE__")},
        "COLUMNS": "160",
        "FEDGATE_LOG_FORMAT": "json",
        "FEDGATE_LOG_LEVEL": "debug",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _DEMO,
            "demo",
            "--people",
            "300",
            "--keep",
            str(base),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    run = DemoRun(result.returncode, result.stdout, result.stderr, base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def _json_lines(text: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "event" in event:
                    events.append(event)
    return events


def _log_texts(run: DemoRun) -> list[str]:
    """Every log line as text to search: JSON lines decoded (so \\u00e9 is é), the timestamp left out."""
    texts = []
    for event in _json_lines(run.stderr) + _json_lines(run.stdout):
        rest = {k: v for k, v in event.items() if k != "timestamp"}
        texts.append(json.dumps(rest, ensure_ascii=False, sort_keys=True))
    # Anything else on stderr (a traceback, a warning) is searched as it stands.
    texts += [line for line in run.stderr.splitlines() if line.strip() and not line.startswith("{")]
    return texts


@dataclass(frozen=True)
class Needles:
    """What must not appear: whole values (any case) and single name words (as written, or upper case)."""

    values: frozenset[str]
    name_words: frozenset[str]

    def found_in(self, text: str) -> set[str]:
        hits = set()
        lowered = text.casefold()
        for value in self.values:
            if value.casefold() in lowered and _bounded(value.casefold(), lowered):
                hits.add(value)
        for word in self.name_words:
            if (word in text and _bounded(word, text)) or (
                word.upper() in text and _bounded(word.upper(), text)
            ):
                hits.add(word)
        return hits


def _bounded(needle: str, text: str) -> bool:
    """``needle`` occurs in ``text`` not inside a longer run of letters and digits (a hex id, a word)."""
    pattern = r"(?<![^\W_])" + re.escape(needle) + r"(?![^\W_])"
    return re.search(pattern, text) is not None


def _person_values(given: str, family: str, dob: str | None, document: str | None) -> Iterator[str]:
    yield f"{given} {family}"
    yield f"{family} {given}"
    yield f"{family}, {given}"
    if dob:
        yield dob
        yield dob.replace("-", "")
        year, month, day = dob.split("-")
        yield f"{day}/{month}/{year}"
    if document:
        yield document


def _words(*names: str) -> Iterator[str]:
    for name in names:
        for word in re.split(r"[\s\-']+", name):
            if len(word) >= 3:
                yield word


def _subject_needles(subjects: Iterable[dict[str, Any]]) -> Needles:
    values: set[str] = set()
    words: set[str] = set()
    for subject in subjects:
        variants = [subject["canonical"], *(held["stored"] for held in subject["held_by"].values())]
        for v in variants:
            for field in _IDENTIFYING:
                value = v.get(field)
                if value is not None and len(str(value)) >= 4:
                    values.add(str(value))
            if v.get("given_names") and v.get("family_name"):
                values.update(
                    _person_values(v["given_names"], v["family_name"], v.get("date_of_birth"), None)
                )
                words.update(_words(v["given_names"], v["family_name"]))
            if v.get("imo_number"):
                values.add("IMO" + str(v["imo_number"]))  # as the demo sends it
    return Needles(frozenset(values), frozenset(words))


def _population_needles(data_dir: Path) -> tuple[Needles, int]:
    """Every person in every agency's database (the mappings say which table and columns)."""
    values: set[str] = set()
    words: set[str] = set()
    people = 0
    for agency in AGENCIES:
        mapping = load_mapping(default_mapping_path(agency), data_dir=data_dir)
        table = mapping.subjects.get(SubjectKind.PERSON)
        if table is None:
            continue
        name = table.match.get("name_and_birth_date")
        passport = table.match.get("passport")
        if name is None:
            continue
        columns = [name["given_names"], name["family_name"], name["date_of_birth"]]
        if passport is not None:
            columns.append(passport["number"])
        database = mapping.database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table.table}").fetchall()  # noqa: S608
        for row in rows:
            given, family, dob = str(row[0]), str(row[1]), str(row[2]) if row[2] is not None else None
            document = str(row[3]) if len(row) > 3 and row[3] else None
            values.update(_person_values(given, family, dob, document))
            words.update(_words(given, family))
            people += 1
    return Needles(frozenset(values), frozenset(words)), people


def _subjects(run: DemoRun) -> list[dict[str, Any]]:
    document = json.loads((run.base / "data" / "subjects_of_interest.json").read_text())
    subjects: list[dict[str, Any]] = document["subjects"]
    return subjects


def test_every_stderr_line_is_a_json_log_event(demo_run: DemoRun) -> None:
    """With FEDGATE_LOG_FORMAT=json the process writes only JSON events to stderr (all a shipper reads)."""
    lines = [line for line in demo_run.stderr.splitlines() if line.strip()]
    assert lines, "the demo logged nothing"
    for line in lines:
        event = json.loads(line)
        assert isinstance(event, dict)
        assert {"event", "level", "timestamp"} <= set(event), line


def test_logs_name_no_subject_of_interest(demo_run: DemoRun) -> None:
    """No name, date of birth or identifier of any subject of interest, in any spelling an agency holds."""
    subjects = _subjects(demo_run)
    assert {s["kind"] for s in subjects} >= {"person", "vessel", "consignment", "organisation"}
    needles = _subject_needles(subjects)
    leaks = {hit: text for text in _log_texts(demo_run) for hit in needles.found_in(text)}
    assert not leaks, f"personal data in the logs: {leaks}"
    # The same search does see them where they are meant to be: the demo's own answers on stdout.
    shown = needles.found_in(demo_run.stdout)
    asked = {s["key"]: s["canonical"] for s in subjects}
    assert asked["soi-01"]["passport_number"] in shown
    assert f"{asked['soi-07']['given_names']} {asked['soi-07']['family_name']}" in shown
    assert asked["soi-07"]["date_of_birth"] in shown


def test_logs_name_no_person_in_any_agency_database(demo_run: DemoRun) -> None:
    """Nor anyone else the agencies hold: every person row of the six databases the demo generated."""
    needles, people = _population_needles(demo_run.base / "data")
    assert people >= 300
    leaks = {hit: text for text in _log_texts(demo_run) for hit in needles.found_in(text)}
    assert not leaks, f"personal data in the logs: {leaks}"


def test_lookup_log_lines_carry_request_requester_purpose_statuses_and_duration(demo_run: DemoRun) -> None:
    """One `lookup.done` line per answered lookup, with what operations needs to follow it."""
    done = [e for e in _json_lines(demo_run.stderr) if e["event"] == "lookup.done"]
    answered = [sc for sc in SCENARIOS if not sc.bad]
    assert len(done) == len(answered)
    for event, scenario in zip(done, answered, strict=True):
        assert event["level"] == "info"
        assert re.fullmatch(r"[0-9a-f]{32}", event["request_id"])
        assert event["requester"] == scenario.requester
        assert event["purpose"] == scenario.purpose
        statuses = event["statuses"]
        assert set(statuses) == set(AGENCIES) - {scenario.requester}  # every agency asked, by name
        assert set(statuses.values()) <= _STATUSES
        assert isinstance(event["duration_ms"], int)
        assert event["duration_ms"] >= 0
        assert set(event["agency_ms"]) == set(statuses)  # per-agency durations, by name
        assert all(isinstance(ms, int) and ms >= 0 for ms in event["agency_ms"].values())
        assert event["decision_id"]  # ties the line to the policy decision in the audit entry
    assert len({e["request_id"] for e in done}) == len(done)
    # A rejected lookup (the malformed request) is logged by its reason code alone.
    rejected = [e for e in _json_lines(demo_run.stderr) if e["event"] == "lookup.rejected"]
    assert [e["reason"] for e in rejected] == ["INVALID_ARGUMENT"] * sum(1 for sc in SCENARIOS if sc.bad)
    allowed = {"event", "level", "timestamp", "requester", "reason", "duration_ms"}
    assert all(set(e) <= allowed for e in rejected)
