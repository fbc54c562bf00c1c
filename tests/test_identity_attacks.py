"""Identity attacks against a real deployment, and certificate revocation with the CA's CRL.

Real gRPC over mutual TLS on port 0 (``start_deployment``: six adapters and the
gateway). Each attack is one test. Covered elsewhere and not repeated here:

- no client certificate, or a foreign CA's agency certificate, at the gateway:
  ``tests/test_gateway_identity.py`` (and ``tests/test_tls_handshake.py`` at the handshake);
- an expired certificate at a bare mTLS server: ``tests/test_tls_handshake.py``;
- the audit log service's roles (gateway certificate denied, agencies see only their
  own entries, no certificate, foreign CA): ``tests/test_audit_service.py``;
- an adapter holding another agency's adapter certificate, and an adapter answering as
  another agency: ``tests/test_gateway_faults.py``.

Here: those attacks against the surfaces not yet covered (the adapters directly, the
deployed gateway with an expired certificate, an adapter certificate from a foreign CA),
then everything about revocation: a revoked agency certificate, revocation while running,
a revoked auditor at the audit log, a revoked gateway certificate at the adapters, and
failing closed when the CRL expires or becomes unusable. Unit tests of
``fedgate.revocation``, ``fedgate.pki.update_crl``, ``fedgate pki revoke`` and the
``[tls] crl`` key close the file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from typer.testing import CliRunner

import fedgate.revocation
from fedgate.cli import app
from fedgate.client import LookupClient
from fedgate.config import ConfigError, load_config, render_config
from fedgate.model import AGENCIES
from fedgate.pki import CertificateAuthority, CertPaths, PKIError, PKILayout, init_pki, update_crl
from fedgate.revocation import CertificateRevoked, CRLError, RevocationList
from fedgate.tls import channel_credentials, channel_options_for_adapter
from fedgate.v1 import adapter_pb2, adapter_pb2_grpc, audit_pb2, audit_pb2_grpc, gateway_pb2
from tests.conftest import Deployment, start_adapter, start_deployment, stop_deployment
from tests.lookups import statuses, unknown_passport_request

CALL_TIMEOUT_S = 5.0  # bounds a hung call; never a speed assertion
REVOKED_MESSAGE = "client certificate has been revoked"
CRL_UNUSABLE_MESSAGE = "revocation status of the client certificate cannot be established"


def _request() -> gateway_pb2.LookupRequest:
    return unknown_passport_request()


def _statuses(response: gateway_pb2.LookupResponse) -> dict[str, str]:
    return statuses(response)


def _write_crl(pki: PKILayout, path: Path, revoked: Iterable[int] = ()) -> Path:
    """Sign a CRL with ``pki``'s CA revoking ``revoked`` and write it (atomically) to ``path``."""
    pki.certificate_authority().issue_crl(revoked, path)
    return path


def _serial(paths: CertPaths) -> int:
    return x509.load_pem_x509_certificate(paths.cert.read_bytes()).serial_number


def _issue(pki: PKILayout, directory: Path, kind: str, name: str) -> CertPaths:
    """A fresh certificate from ``pki``'s CA (the deployment's own certificates stay unrevoked)."""
    ca = pki.certificate_authority()
    if kind == "agency":
        return ca.issue("agency", name).write(directory)
    assert kind == "auditor"
    return ca.issue("auditor", name).write(directory)


async def _lookup_error(dep: Deployment, paths: CertPaths) -> grpc.aio.AioRpcError:
    """Make ``_request()`` with the client certificate ``paths``; return the error it must fail with."""
    client = LookupClient(dep.address, ca=dep.pki.ca_cert, cert=paths.cert, key=paths.key)
    async with client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
    return info.value


async def _query_adapter(
    dep: Deployment, agency: str, credentials: grpc.ChannelCredentials
) -> grpc.StatusCode:
    """Call ``agency``'s adapter directly, as the gateway would; return the status code (OK if answered)."""
    address = f"127.0.0.1:{dep.adapters[agency].port}"
    options = [*channel_options_for_adapter(agency), ("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.secure_channel(address, credentials, options=options) as channel:
        try:
            await adapter_pb2_grpc.AgencyAdapterServiceStub(channel).Query(
                adapter_pb2.QueryRequest(
                    request_id="attack",
                    subject=_request().subject,
                    categories=[adapter_pb2.CategoryFields(category="police_alert", fields=["alert_type"])],
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.fixture
async def revoking(pki: PKILayout, data_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Deployment, Path]]:
    """A deployment whose gateway and adapters check the CRL at ``tmp_path/crl.pem`` (empty at start)."""
    crl = _write_crl(pki, tmp_path / "crl.pem")
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", revocation=RevocationList.load(crl, pki.ca_cert)
    )
    try:
        yield dep, crl
    finally:
        await stop_deployment(dep)


# -- the attacks not covered elsewhere -----------------------------------------------------------


async def test_adapter_refuses_a_client_without_certificate(deployment: Deployment) -> None:
    """An adapter, like the gateway, completes no TLS session with a client that presents no certificate."""
    no_cert = grpc.ssl_channel_credentials(root_certificates=deployment.pki.ca_cert.read_bytes())
    assert await _query_adapter(deployment, "police", no_cert) == grpc.StatusCode.UNAVAILABLE


async def test_adapter_refuses_a_gateway_certificate_from_another_ca(
    deployment: Deployment, other_pki: PKILayout
) -> None:
    """A well-formed gateway certificate (same SPIFFE ID) issued by a foreign CA cannot query an adapter."""
    forged = channel_credentials(deployment.pki.ca_cert, other_pki.gateway.cert, other_pki.gateway.key)
    assert await _query_adapter(deployment, "police", forged) == grpc.StatusCode.UNAVAILABLE
    # The genuine gateway certificate is answered on the same adapter: the refusal is the CA's.
    genuine = channel_credentials(
        deployment.pki.ca_cert, deployment.pki.gateway.cert, deployment.pki.gateway.key
    )
    assert await _query_adapter(deployment, "police", genuine) == grpc.StatusCode.OK


async def test_expired_agency_certificate_is_refused_by_the_gateway_and_not_audited(
    deployment: Deployment, tmp_path: Path
) -> None:
    """A customs certificate from our own CA whose notAfter has passed gets no lookup, and no entry."""
    now = dt.datetime.now(dt.UTC)
    expired = (
        deployment.pki.certificate_authority()
        .issue(
            "agency", "customs", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        )
        .write(tmp_path / "expired")
    )
    error = await _lookup_error(deployment, expired)
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # refused in the handshake
    assert deployment.store.size() == 0


async def test_adapter_certificate_from_another_ca_is_not_trusted_by_the_gateway(
    pki: PKILayout, other_pki: PKILayout, data_dir: Path, tmp_path: Path
) -> None:
    """A real police adapter holding a foreign CA's police adapter certificate is never asked.

    Extends ``test_gateway_faults.test_adapter_with_another_agencys_certificate_is_rejected``
    (right CA, wrong agency) with the other half: right agency name, wrong CA. The gateway
    reports police UNAVAILABLE, and the audit entry for police says so (nothing disclosed).
    """
    impostor = await start_adapter(other_pki, data_dir, "police")
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", addresses={"police": f"127.0.0.1:{impostor.port}"}
    )
    try:
        async with dep.client("customs") as client:
            response = await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
        assert _statuses(response)["police"] == "UNAVAILABLE"
        assert _statuses(response)["immigration"] == "NO_MATCH"
        police_entries = [e for e in dep.audit_entries() if e.get("target_agency") == "police"]
        assert len(police_entries) == 1
        assert police_entries[0]["status"] == "UNAVAILABLE"
    finally:
        await stop_deployment(dep)
        await impostor.stop(0)


# -- revocation ----------------------------------------------------------------------------------


async def test_revoked_agency_certificate_is_unauthenticated_and_not_audited(
    revoking: tuple[Deployment, Path], tmp_path: Path
) -> None:
    """A customs certificate on the CRL gets UNAUTHENTICATED, a message naming nothing of it, and no entry.

    Another customs certificate (the deployment's own) is still served: revocation is per
    certificate, not per agency.
    """
    dep, crl = revoking
    revoked = _issue(dep.pki, tmp_path / "revoked", "agency", "customs")
    _write_crl(dep.pki, crl, [_serial(revoked)])
    error = await _lookup_error(dep, revoked)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == REVOKED_MESSAGE
    assert dep.store.size() == 0
    async with dep.client("customs") as client:
        response = await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
    assert response.requester_agency == "customs"
    assert {e["requester_agency"] for e in dep.audit_entries()} == {"customs"}


async def test_revocation_takes_effect_without_restart(
    revoking: tuple[Deployment, Path], tmp_path: Path
) -> None:
    """A certificate served a moment ago is refused once the operator re-signs the CRL file with it."""
    dep, crl = revoking
    paths = _issue(dep.pki, tmp_path / "police", "agency", "police")
    client = LookupClient(dep.address, ca=dep.pki.ca_cert, cert=paths.cert, key=paths.key)
    async with client:
        first = await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
        assert first.requester_agency == "police"
        entries_before = dep.store.size()
        _write_crl(dep.pki, crl, [_serial(paths)])
        # Same client, same channel (the TLS session stays up): the next call is refused.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert dep.store.size() == entries_before


async def test_revoked_auditor_cannot_read_the_audit_log(
    revoking: tuple[Deployment, Path], tmp_path: Path
) -> None:
    """The audit log service checks the CRL too: a revoked auditor certificate is UNAUTHENTICATED."""
    dep, crl = revoking
    auditor = _issue(dep.pki, tmp_path / "auditor", "auditor", "oversight")
    async with dep.client("customs") as client:
        await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)  # something in the log to read
    creds = channel_credentials(dep.pki.ca_cert, auditor.cert, auditor.key)
    async with grpc.aio.secure_channel(dep.address, creds) as channel:
        stub = audit_pb2_grpc.AuditLogServiceStub(channel)
        reply = await stub.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=1), timeout=CALL_TIMEOUT_S)
        assert len(reply.entries) == 1
    _write_crl(dep.pki, crl, [_serial(auditor)])
    async with grpc.aio.secure_channel(dep.address, creds) as channel:
        stub = audit_pb2_grpc.AuditLogServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=1), timeout=CALL_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert info.value.details() == REVOKED_MESSAGE


async def test_revoked_agency_certificate_cannot_read_the_audit_log(
    revoking: tuple[Deployment, Path], tmp_path: Path
) -> None:
    """A revoked agency certificate is refused by the audit log service (otherwise it sees its entries)."""
    dep, crl = revoking
    agency = _issue(dep.pki, tmp_path / "mpi", "agency", "mpi")
    _write_crl(dep.pki, crl, [_serial(agency)])
    creds = channel_credentials(dep.pki.ca_cert, agency.cert, agency.key)
    async with grpc.aio.secure_channel(dep.address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await audit_pb2_grpc.AuditLogServiceStub(channel).GetCheckpoint(
                audit_pb2.GetCheckpointRequest(), timeout=CALL_TIMEOUT_S
            )
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_revoked_gateway_certificate_is_refused_by_the_adapters(
    revoking: tuple[Deployment, Path],
) -> None:
    """With the gateway's certificate on the CRL, adapters refuse it: asked directly, UNAUTHENTICATED;
    through a lookup, every asked agency is UNAVAILABLE and nothing is disclosed (and that is audited)."""
    dep, crl = revoking
    gateway = channel_credentials(dep.pki.ca_cert, dep.pki.gateway.cert, dep.pki.gateway.key)
    assert await _query_adapter(dep, "police", gateway) == grpc.StatusCode.OK
    _write_crl(dep.pki, crl, [_serial(dep.pki.gateway)])
    assert await _query_adapter(dep, "police", gateway) == grpc.StatusCode.UNAUTHENTICATED
    async with dep.client("customs") as client:
        response = await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
    statuses = _statuses(response)
    asked = {a for a, s in statuses.items() if s != "REFUSED"}
    assert asked, statuses
    assert {statuses[a] for a in asked} == {"UNAVAILABLE"}
    assert not any(r.records for r in response.results)
    assert {e["status"] for e in dep.audit_entries() if e["target_agency"] in asked} == {"UNAVAILABLE"}


async def test_expired_crl_fails_closed_everywhere(
    revoking: tuple[Deployment, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the CRL in use is past its nextUpdate the gateway refuses every caller, adapters the gateway."""
    dep, _ = revoking
    async with dep.client("customs") as client:
        await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)  # served while the CRL is current
    entries = dep.store.size()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)  # issue_crl's CRLs are current for 7 days
    monkeypatch.setattr(fedgate.revocation, "_now", lambda: later)
    error = await _lookup_error(dep, dep.pki.agency_client("customs"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == CRL_UNUSABLE_MESSAGE
    assert dep.store.size() == entries
    gateway = channel_credentials(dep.pki.ca_cert, dep.pki.gateway.cert, dep.pki.gateway.key)
    assert await _query_adapter(dep, "police", gateway) == grpc.StatusCode.UNAUTHENTICATED


async def test_crl_replaced_by_a_foreign_one_fails_closed_until_fixed(
    revoking: tuple[Deployment, Path], other_pki: PKILayout
) -> None:
    """A CRL file swapped for one another CA signed refuses everyone; a good CRL put back restores service."""
    dep, crl = revoking
    _write_crl(other_pki, crl)
    error = await _lookup_error(dep, dep.pki.agency_client("customs"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == CRL_UNUSABLE_MESSAGE
    _write_crl(dep.pki, crl)
    async with dep.client("customs") as client:
        response = await client.lookup(_request(), timeout_s=CALL_TIMEOUT_S)
    assert response.requester_agency == "customs"


async def test_crl_deleted_while_running_fails_closed(revoking: tuple[Deployment, Path]) -> None:
    """A CRL file that disappears refuses every caller (UNAUTHENTICATED), rather than serving unchecked."""
    dep, crl = revoking
    crl.unlink()
    error = await _lookup_error(dep, dep.pki.agency_client("customs"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert dep.store.size() == 0


# -- RevocationList ------------------------------------------------------------------------------


def _pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(Encoding.PEM)


def _crl_dated(ca: CertificateAuthority, path: Path, last: dt.datetime, nxt: dt.datetime) -> Path:
    """A CRL of ``ca`` with the given thisUpdate and nextUpdate."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(last)
        .next_update(nxt)
    )
    path.write_bytes(_pem(builder.sign(ca.private_key, hashes.SHA256())))
    return path


def test_revocation_list_refuses_exactly_the_revoked_serials(pki: PKILayout, tmp_path: Path) -> None:
    """check() raises CertificateRevoked for a serial on the CRL and passes every other certificate."""
    revoked = _issue(pki, tmp_path / "r", "agency", "police")
    crl = RevocationList.load(_write_crl(pki, tmp_path / "crl.pem", [_serial(revoked)]), pki.ca_cert)
    with pytest.raises(CertificateRevoked) as info:
        crl.check(revoked.cert.read_bytes())
    assert info.value.serial == _serial(revoked)
    assert info.value.public_message == REVOKED_MESSAGE
    crl.check(pki.agency_client("police").cert.read_bytes())
    assert crl.revoked_serials == {_serial(revoked)}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda pki, other, path: path, "cannot read CRL file"),
        (lambda pki, other, path: (path.write_bytes(b"not a crl"), path)[1], "does not hold a PEM CRL"),
        (lambda pki, other, path: _write_crl(other, path), "is not signed by the configured CA"),
        (
            lambda pki, other, path: _crl_dated(
                pki.certificate_authority(),
                path,
                dt.datetime.now(dt.UTC) - dt.timedelta(days=8),
                dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            ),
            "expired",
        ),
        (
            lambda pki, other, path: _crl_dated(
                pki.certificate_authority(),
                path,
                dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
                dt.datetime.now(dt.UTC) + dt.timedelta(days=8),
            ),
            "not valid yet",
        ),
    ],
    ids=["missing", "garbage", "foreign-ca", "expired", "future"],
)
def test_unusable_crl_is_refused_at_load_naming_the_file(
    pki: PKILayout, other_pki: PKILayout, tmp_path: Path, make: object, message: str
) -> None:
    """A CRL that is missing, not PEM, another CA's, expired or from the future: CRLError naming it."""
    assert callable(make)
    path = make(pki, other_pki, tmp_path / "crl.pem")
    with pytest.raises(CRLError, match=message) as info:
        RevocationList.load(path, pki.ca_cert)
    assert "crl.pem" in str(info.value)


def test_older_crl_put_back_fails_closed(pki: PKILayout, tmp_path: Path) -> None:
    """Restoring an older CRL (lower CRL number) that lacks a revocation is refused, not believed."""
    ca = pki.certificate_authority()
    revoked = _issue(pki, tmp_path / "r", "agency", "mpi")
    old = tmp_path / "old.pem"
    ca.issue_crl([], old, crl_number=1)
    path = tmp_path / "crl.pem"
    ca.issue_crl([_serial(revoked)], path, crl_number=2)
    crl = RevocationList.load(path, pki.ca_cert)
    os.replace(old, path)
    with pytest.raises(CRLError, match="older"):
        crl.check(pki.agency_client("mpi").cert.read_bytes())
    with pytest.raises(CRLError):
        crl.check(revoked.cert.read_bytes())
    ca.issue_crl([_serial(revoked)], path, crl_number=3)
    crl.check(pki.agency_client("mpi").cert.read_bytes())


def test_no_peer_certificate_in_the_auth_context_is_refused(pki: PKILayout, tmp_path: Path) -> None:
    """check_auth_context refuses an auth context without exactly one peer certificate."""
    crl = RevocationList.load(_write_crl(pki, tmp_path / "crl.pem"), pki.ca_cert)
    with pytest.raises(CertificateRevoked):
        crl.check_auth_context({})
    pem = pki.agency_client("customs").cert.read_bytes()
    crl.check_auth_context({"x509_pem_cert": [pem]})
    with pytest.raises(CertificateRevoked):
        crl.check_auth_context({"x509_pem_cert": [pem, pem]})


# -- tooling: update_crl, `fedgate pki revoke`, `[tls] crl` ---------------------------------------


def test_init_pki_writes_an_empty_current_crl(tmp_path: Path) -> None:
    """`init_pki` leaves crl.pem: empty, signed by the new CA, loadable by RevocationList."""
    layout = init_pki(tmp_path / "pki", agencies=("customs",), auditors=())
    crl = RevocationList.load(layout.crl, layout.ca_cert)
    assert crl.revoked_serials == frozenset()


def test_update_crl_keeps_earlier_revocations_and_raises_the_number(tmp_path: Path) -> None:
    """Each update adds serials, keeps those revoked before (with their dates) and raises the CRL number."""
    layout = init_pki(tmp_path / "pki", agencies=("customs", "police"), auditors=())
    first = update_crl(layout, revoke=[_serial(layout.agency_client("customs"))])
    second = update_crl(
        layout, revoke=[_serial(layout.agency_client("police"))], validity=dt.timedelta(days=2)
    )
    assert {r.serial_number for r in second} == {
        _serial(layout.agency_client("customs")),
        _serial(layout.agency_client("police")),
    }
    customs = _serial(layout.agency_client("customs"))
    first_entry = first.get_revoked_certificate_by_serial_number(customs)
    second_entry = second.get_revoked_certificate_by_serial_number(customs)
    assert first_entry is not None
    assert second_entry is not None
    assert first_entry.revocation_date_utc == second_entry.revocation_date_utc

    def number(crl: x509.CertificateRevocationList) -> int:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    assert number(second) > number(first)
    assert second.next_update_utc is not None
    assert second.last_update_utc is not None
    assert second.next_update_utc - second.last_update_utc == dt.timedelta(days=2)


def test_update_crl_refuses_a_crl_it_did_not_sign(tmp_path: Path, other_pki: PKILayout) -> None:
    """update_crl never merges entries from a CRL another CA signed."""
    layout = init_pki(tmp_path / "pki", agencies=("customs",), auditors=())
    _write_crl(other_pki, layout.crl)
    with pytest.raises(PKIError, match="not signed by the CA"):
        update_crl(layout, revoke=[1])


def test_pki_revoke_command_by_certificate_and_serial(tmp_path: Path, other_pki: PKILayout) -> None:
    """`fedgate pki revoke DIR --cert F --serial N` re-signs DIR/crl.pem with both; refuses foreign certs."""
    layout = init_pki(tmp_path / "pki", agencies=("customs", "police"), auditors=())
    runner = CliRunner()
    customs = layout.agency_client("customs")
    result = runner.invoke(app, ["pki", "revoke", str(layout.root), "--cert", str(customs.cert)])
    assert result.exit_code == 0, result.output
    police = _serial(layout.agency_client("police"))
    result = runner.invoke(
        app, ["pki", "revoke", str(layout.root), "--serial", hex(police), "--next-update-days", "3"]
    )
    assert result.exit_code == 0, result.output
    crl = RevocationList.load(layout.crl, layout.ca_cert)
    assert crl.revoked_serials == {_serial(customs), police}
    foreign = runner.invoke(
        app, ["pki", "revoke", str(layout.root), "--cert", str(other_pki.agency_client("customs").cert)]
    )
    assert foreign.exit_code == 2
    assert "was not issued by the CA" in foreign.output
    bad = runner.invoke(app, ["pki", "revoke", str(layout.root), "--serial", "twelve"])
    assert bad.exit_code == 2


def test_config_tls_crl_key_is_optional_and_checked(tmp_path: Path) -> None:
    """`[tls] crl` is read as a path (None when absent); a missing file is an error naming the key.

    `fedgate config local` writes it (pki init makes the CRL)."""
    for rel in ("ca.pem", "gateway/cert.pem", "gateway/key.pem", "keys/log.key", "keys/tag.key"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    text = render_config(
        pki_dir=tmp_path,
        data_dir=tmp_path / "data",
        keys_dir=tmp_path / "keys",
        gateway_port=7443,
        adapter_ports={},
    )
    assert f'crl = "{tmp_path / "crl.pem"}"' in text
    path = tmp_path / "f.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"tls\.crl: file not found"):
        load_config(path, environ={})
    (tmp_path / "crl.pem").write_text("x")
    assert load_config(path, environ={}).crl == tmp_path / "crl.pem"
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("crl = ")))
    assert load_config(path, environ={}).crl is None
    assert AGENCIES  # the rendered config has no adapters: none are needed for [tls]
