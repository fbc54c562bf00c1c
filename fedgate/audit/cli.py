"""``fedgate audit``: verify an exported audit log offline, make log keys, export, erase, report on a subject.

``verify DIR --key VKEY_OR_FILE [--expect-checkpoint NOTE_FILE ...]`` exits with the code of
``docs/audit-log.md``: 0 verified, 2 unusable input (not an export, no usable key, a pinned
checkpoint file that cannot be read), 10-14 the class of the first failure.
``subject-report DIR --key ... --tag-key FILE IDENTIFIERS`` verifies first and exits with
the verifier's code unless the export verifies; 0 with or without matching entries.
``erase --config FILE (--seq N ... | IDENTIFIERS) --authority ... --requested-by ...``
exits 0 when done, 2 when refused (nothing written) or the store is unavailable, and
``EXIT_ERASURE_INCOMPLETE`` when the erasure entries were appended but some openings
could not be deleted (run it again). Identifiers are given as to ``fedgate lookup``.
Everything printed that comes from the export is stripped of control characters, so a
hostile export cannot drive the auditor's terminal; nothing printed is personal data
(entries are named by seq, openings by name, the subject's identifiers by kind only).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedgate.audit.export import ExportError, read_checkpoint_note, read_export
from fedgate.audit.note import MalformedKeyError, Verifier
from fedgate.audit.verify import VerificationReport, verify_export
from fedgate.audit.verify_parallel import MAX_WORKERS
from fedgate.model import Subject

if TYPE_CHECKING:
    from fedgate.audit.erasure import ErasureResult
    from fedgate.audit.subject_report import ReportedEntry
    from fedgate.config import DeploymentConfig
    from gateway.audit_store import SQLAuditStore

__all__ = ["DEFAULT_ORIGIN", "EXIT_ERASURE_INCOMPLETE", "EXIT_UNUSABLE", "MAX_KEY_FILE_SIZE", "audit_app"]

DEFAULT_ORIGIN = "fedgate.border.nz/audit/v1"  # docs/audit-log.md: the log's name and its key's name
EXIT_UNUSABLE = 2  # docs/audit-log.md: not an export, unreadable
EXIT_ERASURE_INCOMPLETE = 3  # erasure entries appended, some openings still held: run erase again
MAX_KEY_FILE_SIZE = 4096  # a key string is under 200 bytes; anything larger is not a key file
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

audit_app = typer.Typer(
    help="Verify an exported disclosure log offline; make log keys; export; erase evidence; subject reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _printable(text: str) -> str:
    """Escape control characters and rich markup in text that may come from the export."""
    return escape("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text))


def _unusable(message: str, as_json: bool) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps({"ok": False, "exit_code": EXIT_UNUSABLE, "error": message}))
    _err.print(f"[bold red]error:[/] {_printable(message)}")
    return typer.Exit(EXIT_UNUSABLE)


def _trusted_key(value: str) -> str:
    """The verifier key string given directly or in a file; ``ValueError`` says why not."""
    try:
        return Verifier.from_key_string(value).key_string()
    except MalformedKeyError:
        pass
    path = Path(value)
    try:
        info = path.stat()
    except (OSError, ValueError):  # ValueError: a NUL in the path
        raise ValueError("--key is neither a verifier key nor a readable file") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_KEY_FILE_SIZE:
        raise ValueError("--key file is not a small regular file holding a verifier key")
    try:
        text = path.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise ValueError("--key file cannot be read as UTF-8 text") from None
    if text.startswith(_PRIVATE_KEY_PREFIX):
        raise ValueError("--key file holds a PRIVATE key; give the log's public key (log.pub)")
    try:
        return Verifier.from_key_string(text).key_string()
    except MalformedKeyError:
        raise ValueError("--key file does not hold a verifier key") from None


def _summary(report: VerificationReport, directory: Path) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("export", _printable(str(directory))),
        ("log", _printable(report.origin)),
        ("entries", str(report.entries)),
        ("checkpoints", str(report.checkpoints)),
        ("keys", _printable(", ".join(report.key_ids)) or "none verified"),
        ("by kind", ", ".join(f"{k} {n}" for k, n in sorted(report.entries_by_kind.items())) or "-"),
        ("openings verified", str(report.openings_verified)),
        ("erased (authorised)", str(len(report.erased_authorised))),
        ("evidence missing", str(len(report.evidence_missing))),
    ]
    if report.pinned_checkpoints:
        rows.append(("pinned checkpoints", ", ".join(str(size) for size in report.pinned_checkpoints)))
    for label, value in rows:
        table.add_row(label, value)
    _out.print(table)
    for warning in report.warnings:
        _out.print(f"[yellow]warning:[/] {_printable(warning)}")
    if report.failure is None:
        _out.print("[bold green]VERIFIED[/]: every signature, root, entry and opening checks out")
        return
    where = "" if report.first_bad_index is None else f" at entry {report.first_bad_index}"
    if report.bad_range is not None and report.bad_range[1] - report.bad_range[0] > 1:
        where = f" in entries [{report.bad_range[0]}, {report.bad_range[1]})"
    _out.print(
        f"[bold red]FAILED[/] {report.failure.name} (exit {report.exit_code}){escape(where)}: "
        f"{_printable(report.message)}"
    )


@audit_app.command()
def verify(
    directory: Annotated[Path, typer.Argument(help="The export directory.", show_default=False)],
    key: Annotated[
        str, typer.Option("--key", help="The log's first verifier key, or a file holding it (log.pub).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    expect_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--expect-checkpoint",
            help="A signed checkpoint note obtained apart from the export (audit service, earlier "
            "export, witness); the export must be consistent with it. Repeatable.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=MAX_WORKERS,
            help="Processes that check entries and evidence (1: this process only). Default: one per "
            "CPU for an export of 32 MiB of entries or more, else 1. The report is the same either way.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify an export: signatures, entries, checkpoint roots, consistency and evidence.

    Truncation (entries cut off with their checkpoints) leaves a valid shorter log; only a
    checkpoint pinned with --expect-checkpoint reveals it.
    """
    try:
        trusted = _trusted_key(key)
    except ValueError as exc:
        raise _unusable(str(exc), as_json) from None
    pinned: list[tuple[str, bytes]] = []
    for path in expect_checkpoint or []:
        try:
            pinned.append((str(path), read_checkpoint_note(path)))
        except ExportError as exc:
            raise _unusable(f"--expect-checkpoint: {exc}", as_json) from None
    try:
        contents = read_export(directory)
    except ExportError as exc:
        raise _unusable(f"not a usable export: {exc}", as_json) from None
    report = verify_export(contents, trusted, pinned, workers=workers)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        _summary(report, directory)
    raise typer.Exit(report.exit_code)


def _open_store(config: Path) -> tuple[DeploymentConfig, SQLAuditStore]:
    """The deployment's config and its audit store (opened, not created), or exit 2 saying why."""
    from fedgate.config import ConfigError, load_config
    from fedgate.keys import KeyFileError, load_log_signer
    from gateway.audit_store import SQLAuditStore
    from gateway.journal import AuditUnavailable

    try:
        cfg = load_config(config)
        signer = load_log_signer(cfg.audit.log_key)
        store = SQLAuditStore(cfg.audit.store_url, signer=signer, origin=cfg.audit.origin, create=False)
    except (ConfigError, KeyFileError, AuditUnavailable, ValueError) as exc:
        raise _unusable(str(exc), False) from None
    return cfg, store


@audit_app.command()
def keygen(
    directory: Annotated[
        Path, typer.Argument(help="Where to write log.key, log.pub and tag.key.", show_default=False)
    ],
    origin: Annotated[str, typer.Option(help="The log's origin, which names its key.")] = DEFAULT_ORIGIN,
) -> None:
    """Make the log's keys: log.key (private, 0600), log.pub (for auditors), tag.key (subject tags, 0600)."""
    from fedgate.keys import KeyFileError, generate_log_key, generate_tag_key

    for name in ("log.key", "log.pub", "tag.key"):
        if (directory / name).exists() or (directory / name).is_symlink():
            raise _unusable(f"{directory / name} exists; refusing to overwrite a key", False)
    try:
        signer = generate_log_key(directory, origin)
        generate_tag_key(directory / "tag.key")
    except MalformedKeyError:
        raise _unusable("--origin cannot name a key (no spaces or '+')", False) from None
    except (KeyFileError, OSError) as exc:
        raise _unusable(f"cannot write the key files ({exc})", False) from None
    _out.print(
        f"wrote {_printable(str(directory / 'log.key'))} and {_printable(str(directory / 'tag.key'))} "
        f"(keep both secret; give tag.key only to auditors who run subject reports) and "
        f"{_printable(str(directory / 'log.pub'))}:"
    )
    _out.print(_printable(signer.verifier().key_string()))


@audit_app.command()
def export(
    directory: Annotated[
        Path, typer.Argument(help="New directory to write the export into.", show_default=False)
    ],
    config: Annotated[Path, typer.Option(help="Deployment TOML file (its \\[audit] section).")],
) -> None:
    """Write a self-contained export of the log (entries, every checkpoint, keys, evidence, manifest)."""
    from gateway.audit_export import export_store
    from gateway.journal import AuditUnavailable

    _, store = _open_store(config)
    try:
        size, checkpoints = export_store(store, directory)
    except (ExportError, AuditUnavailable) as exc:
        raise _unusable(str(exc), False) from None
    finally:
        store.close()
    _out.print(f"exported {size} entries and {checkpoints} checkpoints to {_printable(str(directory))}")


# --- a subject, named by identifiers as `fedgate lookup` takes them -------------------------------

_Passport = Annotated[
    list[str] | None, typer.Option("--passport", help="NUMBER:COUNTRY, e.g. LA123456:NZL (repeatable).")
]
_Given = Annotated[str, typer.Option("--given", help="Given names (with --family and --dob).")]
_Family = Annotated[str, typer.Option("--family", help="Family name.")]
_DOB = Annotated[str, typer.Option("--dob", help="Date of birth YYYY-MM-DD.")]
_IMO = Annotated[str, typer.Option("--imo", help="Vessel IMO number.")]
_CallSign = Annotated[str, typer.Option("--call-sign", help="Vessel call sign.")]
_Consignment = Annotated[str, typer.Option("--consignment", help="Consignment id.")]
_ClientCode = Annotated[str, typer.Option("--client-code", help="Customs client code.")]
_NZBN = Annotated[str, typer.Option("--nzbn", help="NZ Business Number.")]
_OrgName = Annotated[str, typer.Option("--org-name", help="Organisation name.")]
_PLACEHOLDER_REFERENCE = "subject-tags"  # passes validation's case-reference and officer-id rules


def _subject(
    *,
    passport: list[str] | None,
    given: str,
    family: str,
    dob: str,
    imo: str,
    call_sign: str,
    consignment: str,
    client_code: str,
    nzbn: str,
    org_name: str,
) -> Subject:
    """The subject the options name, checked and normalised as the gateway does; ``ValueError`` if not.

    The gateway tags what ``validate_lookup`` returns, so the same function makes the
    identifiers here: the request's other fields are placeholders it accepts.
    """
    from fedgate.convert import subject_to_proto
    from fedgate.model import (
        NZBN,
        CallSign,
        ConsignmentId,
        CustomsClientCode,
        Identifier,
        ImoNumber,
        NameAndBirthDate,
        OrganisationName,
        PassportNumber,
    )
    from fedgate.v1 import gateway_pb2
    from gateway.errors import InvalidArgument
    from gateway.validation import ALLOWED_IDENTIFIERS, PurposeRegister, validate_lookup

    identifiers: list[Identifier] = []
    for value in passport or []:
        number, _, country = value.partition(":")
        identifiers.append(PassportNumber(number=number, issuing_country=country))
    if given or family or dob:
        identifiers.append(NameAndBirthDate(given_names=given, family_name=family, date_of_birth=dob))
    for text, make in (
        (imo, ImoNumber),
        (call_sign, CallSign),
        (consignment, ConsignmentId),
        (client_code, CustomsClientCode),
        (nzbn, NZBN),
        (org_name, OrganisationName),
    ):
        if text:
            identifiers.append(make(text))
    if not identifiers:
        raise ValueError("name the subject: --passport, --given/--family/--dob, --imo, --call-sign, ...")
    kind = next(k for k, allowed in ALLOWED_IDENTIFIERS.items() if identifiers[0].kind in allowed)
    register = PurposeRegister.default()
    request = gateway_pb2.LookupRequest(
        subject=subject_to_proto(Subject(kind=kind, identifiers=tuple(identifiers))),
        purpose=register.codes[0],
        case_reference=_PLACEHOLDER_REFERENCE,
        officer_id=_PLACEHOLDER_REFERENCE,
        emergency=True,  # so that any purpose code passes
    )
    try:
        return validate_lookup(request, register).subject
    except InvalidArgument as exc:
        raise ValueError(f"{exc.field.removeprefix('subject.')}: {exc.description}") from None


def _identifier_kinds(subject: Subject) -> str:
    return ", ".join(sorted({identifier.kind for identifier in subject.identifiers}))


# --- erase ------------------------------------------------------------------------------------------


@audit_app.command()
def erase(
    config: Annotated[Path, typer.Option(help="Deployment TOML file (its \\[audit] section).")],
    authority: Annotated[
        str,
        typer.Option(
            help="The order or schedule that requires the erasure (a reference: kept in clear for ever)."
        ),
    ],
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="Who asked (a role or office: kept in clear for ever).")
    ],
    seq: Annotated[
        list[int] | None, typer.Option("--seq", min=0, help="Erase this entry's openings (repeatable).")
    ] = None,
    opening: Annotated[
        list[str] | None,
        typer.Option("--opening", help="subject, released or justification (repeatable; default: all)."),
    ] = None,
    passport: _Passport = None,
    given: _Given = "",
    family: _Family = "",
    dob: _DOB = "",
    imo: _IMO = "",
    call_sign: _CallSign = "",
    consignment: _Consignment = "",
    client_code: _ClientCode = "",
    nzbn: _NZBN = "",
    org_name: _OrgName = "",
) -> None:
    """Erase evidence: append an erasure entry per entry to the log, then delete its openings.

    Name entries by --seq, or a subject by identifiers as for `fedgate lookup` (all its entries).

    Matching is on exact normalised identifiers: give every identifier and spelling you know.
    """
    from fedgate.audit.entry import OPENING_NAMES
    from fedgate.audit.erasure import ErasureIncomplete, ErasureRefused, erase_entries, erase_subject
    from fedgate.audit.subject_report import subject_tags
    from fedgate.keys import KeyFileError, load_tag_key
    from gateway.journal import AuditUnavailable

    named = [passport, given, family, dob, imo, call_sign, consignment, client_code, nzbn, org_name]
    if bool(seq) == any(named):
        raise _unusable("give either --seq or the subject's identifiers, not both and not neither", False)
    cfg, store = _open_store(config)
    tags: frozenset[str] = frozenset()
    try:
        if not seq:
            subject = _subject(
                passport=passport,
                given=given,
                family=family,
                dob=dob,
                imo=imo,
                call_sign=call_sign,
                consignment=consignment,
                client_code=client_code,
                nzbn=nzbn,
                org_name=org_name,
            )
            tags = subject_tags(load_tag_key(cfg.audit.tag_key), subject)
    except (KeyFileError, ValueError) as exc:
        store.close()
        raise _unusable(str(exc), False) from None
    names = opening or list(OPENING_NAMES)
    try:
        if seq:
            result = erase_entries(store, seq, authority=authority, requested_by=requested_by, openings=names)
        else:
            result = erase_subject(
                store, tags, authority=authority, requested_by=requested_by, openings=names
            )
    except ErasureRefused as exc:
        raise _unusable(f"refused, nothing erased: {exc}", False) from None
    except ErasureIncomplete as exc:
        _erasure_table(exc.result)
        _err.print(f"[bold red]error:[/] {_printable(str(exc))}")
        raise typer.Exit(EXIT_ERASURE_INCOMPLETE) from None
    except AuditUnavailable as exc:
        raise _unusable(f"{exc}; nothing was erased", False) from None
    finally:
        store.close()
    _erasure_table(result)


def _erasure_table(result: ErasureResult) -> None:
    """What was erased, by seq and opening name: nothing here is personal data."""
    table = Table(title="erased", title_justify="left")
    table.add_column("entry", justify="right")
    table.add_column("openings erased")
    table.add_column("erasure entry", justify="right")
    for erasure in result.erased:
        table.add_row(str(erasure.seq), ", ".join(erasure.openings), str(erasure.erasure_seq))
    _out.print(table)
    if result.nothing_held:
        _out.print("already erased (skipped): entries " + ", ".join(str(seq) for seq in result.nothing_held))
    _out.print(f"{len(result.erased)} entries erased")
    if result.erased and not result.purged:
        _out.print(
            "[yellow]warning:[/] the openings are deleted, but the database may keep older copies of "
            "their pages until its next checkpoint (SQLite) or vacuum (PostgreSQL)"
        )


# --- subject-report ---------------------------------------------------------------------------------


@audit_app.command("subject-report")
def subject_report(
    directory: Annotated[Path, typer.Argument(help="The export directory.", show_default=False)],
    key: Annotated[
        str, typer.Option("--key", help="The log's first verifier key, or a file holding it (log.pub).")
    ],
    tag_key: Annotated[Path, typer.Option("--tag-key", help="The subject tag key file (tag.key).")],
    passport: _Passport = None,
    given: _Given = "",
    family: _Family = "",
    dob: _DOB = "",
    imo: _IMO = "",
    call_sign: _CallSign = "",
    consignment: _Consignment = "",
    client_code: _ClientCode = "",
    nzbn: _NZBN = "",
    org_name: _OrgName = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Every disclosure and refusal about one subject, from an export that must verify first.

    Exits with the verifier's code unless the export verifies; 0 otherwise, with or without matches.

    Matching is on exact normalised identifiers (case, spacing, accents, name-word order ignored).

    A variant spelling, another date of birth or another document is another tag: query each you know.
    """
    from fedgate.audit.subject_report import (
        MATCHING_NOTE,
        SubjectReportError,
        subject_tags,
    )
    from fedgate.audit.subject_report import subject_report as make_report
    from fedgate.audit.verify import VerificationError
    from fedgate.keys import KeyFileError, load_tag_key

    try:
        trusted = _trusted_key(key)
        subject = _subject(
            passport=passport,
            given=given,
            family=family,
            dob=dob,
            imo=imo,
            call_sign=call_sign,
            consignment=consignment,
            client_code=client_code,
            nzbn=nzbn,
            org_name=org_name,
        )
        tags = subject_tags(load_tag_key(tag_key), subject)
    except (ValueError, KeyFileError) as exc:
        raise _unusable(str(exc), as_json) from None
    try:
        contents = read_export(directory)
    except ExportError as exc:
        raise _unusable(f"not a usable export: {exc}", as_json) from None
    try:
        report = make_report(contents, trusted, tags)
    except VerificationError as exc:
        failed = exc.report
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ok": False,
                        "exit_code": failed.exit_code,
                        "error": "the export does not verify; no subject report from an unverified log",
                        "verification": failed.to_json(),
                    },
                    indent=2,
                    ensure_ascii=True,
                )
            )
        else:
            _summary(failed, directory)
            _err.print("[bold red]refused:[/] the export does not verify; no subject report from it")
        raise typer.Exit(failed.exit_code) from None
    except SubjectReportError as exc:
        raise _unusable(str(exc), as_json) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
        raise typer.Exit(0)
    _out.print(
        f"log {_printable(report.verification.origin)}: VERIFIED, {report.verification.entries} entries "
        f"scanned for {report.tags_searched} tag(s) of the identifiers given ({_identifier_kinds(subject)})"
    )
    for warning in report.verification.warnings:
        _out.print(f"[yellow]warning:[/] {_printable(warning)}")
    _out.print(f"[bold]note:[/] {MATCHING_NOTE}")
    if not report.entries:
        _out.print("no entries carry these identifiers")
        raise typer.Exit(0)
    for entry in report.entries:
        _out.print()
        _out.print(_entry_table(entry))
    _out.print(f"{len(report.entries)} entries")


def _entry_table(entry: ReportedEntry) -> Table:
    """One entry as label and value rows: narrow terminals wrap values, not a dozen columns."""
    table = Table(
        title=f"entry {entry.seq}: {_printable(entry.kind)}",
        title_justify="left",
        show_header=False,
        box=None,
    )
    table.add_column(style="bold")
    table.add_column()
    evidence = ["held: " + (", ".join(entry.openings_held) or "-")]
    if entry.erased_openings:
        by = ", ".join(str(seq) for seq in entry.erased_by)
        evidence.append(f"erased: {', '.join(entry.erased_openings)} (erasure entry {by})")
    rows: list[tuple[str, list[str]]] = [
        ("time", [entry.time]),
        ("requester", [f"{entry.requester_agency}, officer {entry.officer_id}, case {entry.case_reference}"]),
        ("purpose", [entry.purpose + (" (EMERGENCY)" if entry.emergency else "")]),
        ("agency asked", [entry.target_agency]),
        ("outcome", [entry.status + (f" {entry.refusal_code}" if entry.refusal_code else "")]),
        (
            f"released ({entry.released_records})",
            [f"{category}: {', '.join(names)}" for category, names in entry.released_fields.items()] or ["-"],
        ),
        (
            "legal basis",
            [
                f"{b.mou_id} cl {b.clause}" + (f" ({'; '.join(b.statute_refs)})" if b.statute_refs else "")
                for b in entry.legal_basis
            ]
            or ["-"],
        ),
        ("evidence", evidence),
    ]
    for label, lines in rows:
        # Escaped line by line: a newline from the export must not pass as one of ours.
        table.add_row(label, "\n".join(_printable(line) for line in lines))
    return table


@audit_app.command("rotate-key")
def rotate_key(
    new_key_dir: Annotated[
        Path, typer.Argument(help="Empty directory for the new log.key, log.pub.", show_default=False)
    ],
    config: Annotated[Path, typer.Option(help="Deployment TOML file (its \\[audit] section).")],
) -> None:
    """Rotate the log's signing key: a key-rotation entry and a handover checkpoint signed by both keys.

    Afterwards point ``[audit] log_key`` at the new key and restart the gateways: a gateway still
    holding the old key refuses to append (fails closed) rather than fork the log.
    """
    from fedgate.keys import KeyFileError, generate_log_key
    from gateway.journal import AuditUnavailable

    cfg, store = _open_store(config)
    try:
        new_signer = generate_log_key(new_key_dir, cfg.audit.origin)
        receipt = store.rotate_key(new_signer)
    except (KeyFileError, AuditUnavailable, ValueError, OSError) as exc:
        raise _unusable(f"rotation refused: {exc}", False) from None
    finally:
        store.close()
    _out.print(
        f"rotated: key-rotation entry {receipt.log_index}; new key in {_printable(str(new_key_dir))}. "
        f"Set [audit] log_key to {_printable(str(new_key_dir / 'log.key'))} and restart the gateways."
    )
    _out.print(_printable(new_signer.verifier().key_string()))
