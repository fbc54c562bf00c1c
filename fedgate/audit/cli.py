"""``fedgate audit``: verify an exported audit log offline, and make a log key pair.

``verify DIR --key VKEY_OR_FILE`` exits with the code of ``docs/audit-log.md``: 0 verified,
2 unusable input (not an export, no usable key), 10-14 the class of the first failure.
Everything printed that comes from the export is stripped of control characters, so a
hostile export cannot drive the auditor's terminal; nothing printed is personal data
(the verifier names entries by seq and openings by name).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedgate.audit.export import ExportError, read_export
from fedgate.audit.note import MalformedKeyError, Verifier
from fedgate.audit.verify import VerificationReport, verify_export

__all__ = ["DEFAULT_ORIGIN", "EXIT_UNUSABLE", "MAX_KEY_FILE_SIZE", "audit_app"]

DEFAULT_ORIGIN = "fedgate.border.nz/audit/v1"  # docs/audit-log.md: the log's name and its key's name
EXIT_UNUSABLE = 2  # docs/audit-log.md: not an export, unreadable
EXPORT_CHUNK = 10_000  # entries read from the store per query while exporting
MAX_KEY_FILE_SIZE = 4096  # a key string is under 200 bytes; anything larger is not a key file
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

audit_app = typer.Typer(
    help="Verify an exported disclosure log offline; make log keys.",
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
) -> None:
    """Verify an export: signatures, entries, checkpoint roots, consistency and evidence."""
    try:
        trusted = _trusted_key(key)
    except ValueError as exc:
        raise _unusable(str(exc), as_json) from None
    try:
        contents = read_export(directory)
    except ExportError as exc:
        raise _unusable(f"not a usable export: {exc}", as_json) from None
    report = verify_export(contents, trusted)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        _summary(report, directory)
    raise typer.Exit(report.exit_code)


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
    config: Annotated[Path, typer.Option(help="Deployment TOML file (its [audit] section).")],
) -> None:
    """Write a self-contained export of the log (entries, every checkpoint, keys, evidence, manifest)."""
    from fedgate.audit.export import write_export
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
    try:
        size = store.size()

        def entries() -> Iterator[bytes]:
            for start in range(0, size, EXPORT_CHUNK):
                yield from store.entries(start, min(size, start + EXPORT_CHUNK))

        checkpoints = [(s, note) for s, note in store.checkpoints() if s <= size]
        write_export(
            directory,
            origin=store.origin,
            log_keys=[signer.verifier().key_string()],
            entries=entries(),
            checkpoints=checkpoints,
            evidence=(row for row in store.all_openings() if row[0] < size),
        )
    except (ExportError, AuditUnavailable) as exc:
        raise _unusable(str(exc), False) from None
    finally:
        store.close()
    _out.print(f"exported {size} entries and {len(checkpoints)} checkpoints to {_printable(str(directory))}")
