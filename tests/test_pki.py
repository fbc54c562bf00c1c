"""The sector CA: what ``init_pki`` writes and what ``CertificateAuthority`` issues."""

from __future__ import annotations

import datetime as dt
import stat
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedgate.identity import DEFAULT_TRUST_DOMAIN, identity_from_pem
from fedgate.model import AGENCIES
from fedgate.pki import CertificateAuthority, CertPaths, PKIError, PKILayout, init_pki
from fedgate.tls import adapter_target_name

TD = DEFAULT_TRUST_DOMAIN
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> PKILayout:
    return init_pki(tmp_path_factory.mktemp("pki") / "pki")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _all_leaves(layout: PKILayout) -> list[CertPaths]:
    return [
        layout.gateway,
        *(layout.agency_client(a) for a in AGENCIES),
        *(layout.adapter_server(a) for a in AGENCIES),
        layout.auditor("oversight"),
    ]


def _ekus(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _sans(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_every_file_with_private_keys_unreadable_to_others(layout: PKILayout) -> None:
    """init_pki writes the CA and every leaf, keys 0600 in 0700 directories."""
    assert layout.ca_cert == layout.root / "ca.pem"
    assert layout.ca_key == layout.root / "ca.key"
    assert _mode(layout.ca_key) == 0o600
    assert _mode(layout.root) == 0o700
    for group in ("agencies", "adapters", "auditors", "gateway"):
        assert _mode(layout.root / group) == 0o700
    for paths in _all_leaves(layout):
        assert paths.cert.is_file()
        assert paths.cert.name == "cert.pem"
        assert _mode(paths.key) == 0o600
        assert _mode(paths.key.parent) == 0o700
    assert layout.agency_client("customs").cert == layout.root / "agencies" / "customs" / "cert.pem"
    assert layout.adapter_server("police").key == layout.root / "adapters" / "police" / "key.pem"
    assert layout.auditor("oversight").cert == layout.root / "auditors" / "oversight" / "cert.pem"
    assert not list(layout.root.rglob(".*.tmp")), "no temporary files left behind"


def test_ca_is_a_pathlen_zero_signing_only_ca(layout: PKILayout) -> None:
    """The CA is self-signed, CA:true with pathlen 0, and may only sign certificates and CRLs."""
    ca = _cert(layout.ca_cert)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    ca.verify_directly_issued_by(ca)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_every_leaf_chains_to_the_ca(layout: PKILayout) -> None:
    """Every leaf's signature verifies under the CA key, and no leaf is itself a CA."""
    ca = _cert(layout.ca_cert)
    for paths in _all_leaves(layout):
        leaf = _cert(paths.cert)
        leaf.verify_directly_issued_by(ca)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
        curve = leaf.public_key()
        assert isinstance(curve, ec.EllipticCurvePublicKey)
        assert isinstance(curve.curve, ec.SECP256R1)


def test_gateway_is_both_server_and_client(layout: PKILayout) -> None:
    """The gateway certificate has serverAuth and clientAuth and the gateway's SPIFFE ID, DNS and IP names."""
    cert = _cert(layout.gateway.cert)
    assert _ekus(cert) == {SERVER_AUTH, CLIENT_AUTH}
    sans = _sans(cert)
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [f"spiffe://{TD}/gateway"]
    assert sans.get_values_for_type(x509.DNSName) == [f"gateway.{TD}", "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [IPv4Address("127.0.0.1"), IPv6Address("::1")]


def test_agency_certificates_are_client_only(layout: PKILayout) -> None:
    """Each agency system's certificate is clientAuth only, names its agency, and has no DNS names."""
    for agency in AGENCIES:
        cert = _cert(layout.agency_client(agency).cert)
        assert _ekus(cert) == {CLIENT_AUTH}
        sans = _sans(cert)
        assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [f"spiffe://{TD}/agency/{agency}"]
        assert sans.get_values_for_type(x509.DNSName) == []
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"{agency} agency system"
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == agency


def test_adapter_certificates_are_server_only_and_carry_the_pinned_name(layout: PKILayout) -> None:
    """Each adapter's certificate is serverAuth only and carries the name the gateway pins for it."""
    for agency in AGENCIES:
        cert = _cert(layout.adapter_server(agency).cert)
        assert _ekus(cert) == {SERVER_AUTH}
        sans = _sans(cert)
        assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [f"spiffe://{TD}/adapter/{agency}"]
        assert sans.get_values_for_type(x509.DNSName) == [adapter_target_name(agency, TD), "localhost"]
        assert sans.get_values_for_type(x509.IPAddress) == [IPv4Address("127.0.0.1")]


def test_auditor_certificate_is_a_client_with_the_auditor_role(layout: PKILayout) -> None:
    """The auditor certificate is clientAuth only and reads back as role auditor."""
    pem = layout.auditor("oversight").cert.read_bytes()
    assert _ekus(x509.load_pem_x509_certificate(pem)) == {CLIENT_AUTH}
    identity = identity_from_pem(pem, trust_domain=TD)
    assert (identity.role, identity.name) == ("auditor", "oversight")


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    """init_pki will not write over an existing directory's contents unless forced."""
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(PKIError, match="not empty"):
        init_pki(tmp_path, agencies=("customs",))
    assert not (tmp_path / "ca.key").exists()


def test_init_with_force_replaces_the_ca(tmp_path: Path) -> None:
    """With force, init_pki replaces an existing PKI's files and keeps their modes."""
    first = init_pki(tmp_path, agencies=("customs",), auditors=())
    old_ca = first.ca_cert.read_bytes()
    second = init_pki(tmp_path, agencies=("customs",), auditors=(), force=True)
    assert second.ca_cert.read_bytes() != old_ca
    assert _mode(second.ca_key) == 0o600
    _cert(second.agency_client("customs").cert).verify_directly_issued_by(_cert(second.ca_cert))


def test_two_inits_make_different_cas(tmp_path: Path) -> None:
    """Each init_pki makes a fresh CA key, so two PKIs never trust each other's certificates."""
    a = init_pki(tmp_path / "a", agencies=("customs",), auditors=())
    b = init_pki(tmp_path / "b", agencies=("customs",), auditors=())
    ca_a, ca_b = _cert(a.ca_cert), _cert(b.ca_cert)
    assert ca_a.public_key() != ca_b.public_key()
    assert ca_a.serial_number != ca_b.serial_number
    with pytest.raises(InvalidSignature):
        _cert(a.agency_client("customs").cert).verify_directly_issued_by(ca_b)


def test_issue_expired_certificate_from_a_loaded_ca(layout: PKILayout) -> None:
    """A CA loaded from disk issues a certificate with explicit past dates, for expiry tests."""
    ca = layout.certificate_authority()
    assert ca.trust_domain == TD
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(
        "agency", "customs", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    )
    cert = issued.certificate
    assert cert.not_valid_after_utc < now
    cert.verify_directly_issued_by(_cert(layout.ca_cert))


def test_issue_not_yet_valid_certificate(layout: PKILayout) -> None:
    """An explicit future not_before gives a certificate that is not valid yet."""
    ca = layout.certificate_authority()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert ca.issue(
        "adapter", "mpi", not_before=later
    ).certificate.not_valid_before_utc > later - dt.timedelta(seconds=1)


def test_issued_certificate_write_protects_the_key(tmp_path: Path) -> None:
    """IssuedCertificate.write puts the key in a 0600 file in a 0700 directory."""
    ca = CertificateAuthority.create(trust_domain="test.example")
    paths = ca.issue("auditor", "privacy-commissioner").write(tmp_path / "pc")
    assert _mode(paths.key) == 0o600
    assert _mode(paths.key.parent) == 0o700
    assert (
        identity_from_pem(paths.cert.read_bytes(), trust_domain="test.example").name == "privacy-commissioner"
    )


def test_crl_lists_revoked_serials_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    """issue_crl writes a PEM CRL naming each revoked serial, verifiable with the CA key."""
    ca = CertificateAuthority.create()
    revoked = [ca.issue("agency", "police").serial_number, ca.issue("agency", "nzsis").serial_number]
    crl = ca.issue_crl(revoked, tmp_path / "crl.pem")
    loaded = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert loaded == crl
    assert loaded.is_signature_valid(ca.private_key.public_key())
    assert {r.serial_number for r in loaded} == set(revoked)
    assert loaded.get_revoked_certificate_by_serial_number(revoked[0]) is not None
    assert loaded.issuer == ca.certificate.subject
    assert loaded.signature_hash_algorithm is not None
    assert isinstance(loaded.signature_hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize(
    "name", ["", "Customs", "1customs", "customs.nz", "a" * 33, "cus toms", "../etc", "customs/x"]
)
def test_bad_agency_names_are_refused(tmp_path: Path, name: str) -> None:
    """An agency name that is not a short lower-case token is refused before anything is written."""
    with pytest.raises(PKIError, match="invalid agency name"):
        init_pki(tmp_path, agencies=(name,))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "trust_domain", ["", "Border.NZ", "border..nz", "-border.nz", "border.nz.", "spiffe://border.nz", "a/b"]
)
def test_bad_trust_domains_are_refused(trust_domain: str) -> None:
    """A trust domain that is not a lower-case DNS name is refused."""
    with pytest.raises(PKIError, match="invalid trust domain"):
        CertificateAuthority.create(trust_domain=trust_domain)


def test_gateway_certificate_must_be_named_gateway() -> None:
    """There is one gateway identity; issuing one under another name is refused."""
    with pytest.raises(PKIError, match="gateway"):
        CertificateAuthority.create().issue("gateway", "gateway2")


def test_layout_refuses_unknown_agency(layout: PKILayout) -> None:
    """Asking a layout for an agency it was not made with is an error, not a path to nowhere."""
    with pytest.raises(PKIError, match="no agency 'interpol'"):
        layout.agency_client("interpol")


def test_loading_a_ca_with_a_mismatched_key_is_refused(tmp_path: Path) -> None:
    """A CA certificate paired with another CA's key does not load."""
    a, b = CertificateAuthority.create(), CertificateAuthority.create()
    a.save(tmp_path / "ca.pem", tmp_path / "ca.key")
    b.save(tmp_path / "other.pem", tmp_path / "other.key")
    with pytest.raises(PKIError, match="does not match"):
        CertificateAuthority.load(tmp_path / "ca.pem", tmp_path / "other.key")


def test_loading_a_missing_ca_is_a_pki_error(tmp_path: Path) -> None:
    """A missing CA file gives a PKIError, not an OSError."""
    with pytest.raises(PKIError, match="cannot read CA file"):
        CertificateAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
