"""The ``fedgate`` command as a user runs it: real processes, real ports, real certificates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fedgate.pki import PKILayout
from tests.processes import local_deployment, run, serving

pytestmark = pytest.mark.slow

_run = run


def test_demo_runs_end_to_end_and_exits_zero(tmp_path: Path) -> None:
    """`fedgate demo` makes everything, runs its lookups, prints per-agency tables and exits 0."""
    result = _run("demo", "--people", "300", "--keep", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for status in ("DISCLOSED", "PARTIAL", "REFUSED", "NO_MATCH"):
        assert status in out
    assert "INVALID_ARGUMENT: subject.identifiers[0].passport.issuing_country" in out
    counted = re.search(
        r"audit log: 36 entries \((\d+) disclosure, 1 policy activation, (\d+) refusal\)",
        out,
    )
    assert counted is not None, out[-3000:]  # 35 per-agency lookup entries and the policy activation
    assert int(counted[1]) + int(counted[2]) == 35
    assert "offline verification of the export with the log's public key: verified" in out
    assert "fedgate.border.nz/audit/v1\n36\n" in out
    assert (tmp_path / "demo" / "data" / "audit.sqlite").exists()


def test_pki_init_refuses_non_empty_directory(tmp_path: Path) -> None:
    """`fedgate pki init` writes a PKI once and then refuses to overwrite it without --force."""
    assert _run("pki", "init", str(tmp_path / "pki")).returncode == 0
    again = _run("pki", "init", str(tmp_path / "pki"))
    assert again.returncode == 2
    assert "error:" in again.stderr


def test_data_generate_is_deterministic(tmp_path: Path) -> None:
    """Two runs with the same seed write the same subjects of interest and row counts."""
    first = _run("data", "generate", str(tmp_path / "a"), "--people", "120", "--seed", "5")
    second = _run("data", "generate", str(tmp_path / "b"), "--people", "120", "--seed", "5")
    assert first.returncode == 0, first.stderr
    assert first.stdout.replace(str(tmp_path / "a"), "") == second.stdout.replace(str(tmp_path / "b"), "")
    a = json.loads((tmp_path / "a" / "subjects_of_interest.json").read_text())
    b = json.loads((tmp_path / "b" / "subjects_of_interest.json").read_text())
    assert a == b


@pytest.fixture
def served(tmp_path: Path, pki: PKILayout, data_dir: Path) -> Iterator[tuple[str, Path, Path]]:
    """Seven `fedgate serve` processes from one config file; yields gateway address, PKI root, config."""
    config = local_deployment(tmp_path / "deploy", pki, data_dir)
    with serving(config, [config], pki.root) as (address,):
        yield address, pki.root, config


def test_served_processes_answer_a_lookup(served: tuple[str, Path, Path], soi: list[dict[str, Any]]) -> None:
    """Separate gateway and adapter processes, configured by one file, answer `fedgate lookup --json`."""
    address, pki_root, _ = served
    c = next(s for s in soi if s["key"] == "soi-01")["canonical"]
    result = _run(
        "lookup",
        "--gateway",
        address,
        "--pki",
        str(pki_root),
        "--as",
        "customs",
        "--purpose",
        "BORDER_RISK_ASSESSMENT",
        "--case-ref",
        "C-1",
        "--officer",
        "O-1",
        "--passport",
        f"{c['passport_number']}:{c['passport_country']}",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["requester_agency"] == "customs"
    statuses = {r["agency"]: r["status"] for r in answer["results"]}
    assert statuses["police"] == "AGENCY_STATUS_DISCLOSED"
    assert statuses["nzsis"] == "AGENCY_STATUS_REFUSED"


def test_lookup_reports_invalid_argument_clearly(served: tuple[str, Path, Path]) -> None:
    """A malformed lookup from the CLI exits 1 with the status and the field, and no traceback."""
    address, pki_root, _ = served
    result = _run(
        "lookup",
        "--gateway",
        address,
        "--pki",
        str(pki_root),
        "--as",
        "police",
        "--purpose",
        "LAW_ENFORCEMENT",
        "--case-ref",
        "C-1",
        "--officer",
        "O-1",
        "--imo",
        "1234568",
    )
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "imo_number" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_from_running_deployment_verifies_offline(
    served: tuple[str, Path, Path], soi: list[dict[str, Any]], tmp_path: Path
) -> None:
    """`fedgate audit export` of a live deployment's log passes `fedgate audit verify` with the public key."""
    address, pki_root, config = served
    c = next(s for s in soi if s["key"] == "soi-02")["canonical"]
    for agency, purpose in (("customs", "NATIONAL_SECURITY"), ("police", "LAW_ENFORCEMENT")):
        result = _run(
            "lookup",
            "--gateway",
            address,
            "--pki",
            str(pki_root),
            "--as",
            agency,
            "--purpose",
            purpose,
            "--case-ref",
            "C-2",
            "--officer",
            "O-2",
            "--given",
            c["given_names"],
            "--family",
            c["family_name"],
            "--dob",
            c["date_of_birth"],
            "--json",
        )
        assert result.returncode == 0, result.stderr
    export = tmp_path / "export"
    exported = _run("audit", "export", str(export), "--config", str(config))
    assert exported.returncode == 0, exported.stderr
    verified = _run(
        "audit", "verify", str(export), "--key", str(config.parent / "keys" / "log.pub"), "--json"
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    assert report["entries"] == 11  # the gateway's policy_activation, then 2 lookups x 5 agencies


def test_key_rotation_fails_stale_gateway_closed_and_verifies(
    served: tuple[str, Path, Path], soi: list[dict[str, Any]], tmp_path: Path
) -> None:
    """After `audit rotate-key`, a gateway still on the old key discloses nothing; the log verifies."""
    address, pki_root, config = served
    c = next(s for s in soi if s["key"] == "soi-01")["canonical"]
    lookup = (
        "lookup",
        "--gateway",
        address,
        "--pki",
        str(pki_root),
        "--as",
        "customs",
        "--purpose",
        "BORDER_RISK_ASSESSMENT",
        "--case-ref",
        "C-3",
        "--officer",
        "O-3",
        "--passport",
        f"{c['passport_number']}:{c['passport_country']}",
        "--json",
    )
    assert _run(*lookup).returncode == 0
    rotated = _run("audit", "rotate-key", str(tmp_path / "new-key"), "--config", str(config))
    assert rotated.returncode == 0, rotated.stderr
    stale = _run(*lookup)
    assert stale.returncode == 1
    assert "UNAVAILABLE" in stale.stderr
    export = tmp_path / "export"
    assert _run("audit", "export", str(export), "--config", str(config)).returncode == 0
    verified = _run(
        "audit", "verify", str(export), "--key", str(config.parent / "keys" / "log.pub"), "--json"
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["entries"] == 7  # policy_activation, 5 lookup entries, the key rotation
    assert len(report["key_ids"]) == 2


def test_serve_gateway_start_failure_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A gateway that cannot start (an unusable CRL, an empty policy bundle, ...) exits 1 with one line."""
    from fedgate.config import render_config

    for rel in ("ca.pem", "crl.pem", "gateway/cert.pem", "gateway/key.pem", "keys/log.key", "keys/tag.key"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "empty-bundle").mkdir()
    text = render_config(
        pki_dir=tmp_path,
        data_dir=tmp_path / "data",
        keys_dir=tmp_path / "keys",
        gateway_port=0,
        adapter_ports={},
    )
    config = tmp_path / "f.toml"
    config.write_text(
        text.replace("[gateway]", f'[gateway]\npolicy_bundle = "{tmp_path / "empty-bundle"}"', 1)
    )
    result = _run("serve", "gateway", "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert "gateway did not start" in result.stderr
    assert "Traceback" not in result.stderr
