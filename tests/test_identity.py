"""Reading a caller's identity from its certificate: only one SPIFFE ID of ours is accepted."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from fedgate.identity import (
    IdentityError,
    PeerIdentity,
    identity_from_auth_context,
    identity_from_pem,
    spiffe_id,
)
from fedgate.pki import CertificateAuthority

TD = "test.border.nz"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(trust_domain=TD)


def _self_signed(sans: list[x509.GeneralName] | None) -> bytes:
    """A certificate with exactly the given SANs (or none); identity parsing does not check the chain."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "customs agency system")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("agency", "customs", PeerIdentity("agency", "customs", f"spiffe://{TD}/agency/customs")),
        ("adapter", "nzsis", PeerIdentity("adapter", "nzsis", f"spiffe://{TD}/adapter/nzsis")),
        ("auditor", "oversight", PeerIdentity("auditor", "oversight", f"spiffe://{TD}/auditor/oversight")),
        ("gateway", "gateway", PeerIdentity("gateway", "gateway", f"spiffe://{TD}/gateway")),
    ],
)
def test_identity_of_each_role(
    ca: CertificateAuthority, kind: str, name: str, expected: PeerIdentity
) -> None:
    """A certificate from our CA reads back as the role and name it was issued for."""
    pem = ca.issue(kind, name).cert_pem  # type: ignore[arg-type]  # parametrised kinds are valid CertKinds
    assert identity_from_pem(pem, trust_domain=TD) == expected


def test_identity_from_auth_context_reads_the_peer_certificate(ca: CertificateAuthority) -> None:
    """The auth_context mapping gRPC hands a servicer yields the peer's identity."""
    pem = ca.issue("agency", "mpi").cert_pem
    auth_context = {"transport_security_type": [b"ssl"], "x509_pem_cert": [pem]}
    identity = identity_from_auth_context(auth_context, trust_domain=TD)
    assert identity == PeerIdentity("agency", "mpi", spiffe_id("agency", "mpi", TD))


def test_auth_context_without_certificate_is_rejected() -> None:
    """A connection that presented no client certificate has no identity."""
    with pytest.raises(IdentityError, match="no client certificate"):
        identity_from_auth_context({"transport_security_type": [b"ssl"]}, trust_domain=TD)
    with pytest.raises(IdentityError, match="no client certificate"):
        identity_from_auth_context({"x509_pem_cert": []}, trust_domain=TD)


def test_certificate_from_another_trust_domain_is_rejected() -> None:
    """A valid SPIFFE ID in a different trust domain is not one of ours, and the error names it."""
    other = CertificateAuthority.create(trust_domain="evil.example")
    pem = other.issue("agency", "customs").cert_pem
    with pytest.raises(IdentityError, match="not in trust domain") as excinfo:
        identity_from_pem(pem, trust_domain=TD)
    assert "spiffe://evil.example/agency/customs" in str(excinfo.value)


def test_trust_domain_that_merely_starts_with_ours_is_rejected() -> None:
    """A trust domain with ours as a prefix ('test.border.nz.evil') is a different trust domain."""
    pem = _self_signed([x509.UniformResourceIdentifier(f"spiffe://{TD}.evil/agency/customs")])
    with pytest.raises(IdentityError, match="not in trust domain"):
        identity_from_pem(pem, trust_domain=TD)


def test_certificate_without_san_is_rejected() -> None:
    """A certificate with no SAN extension at all names nobody (the CN is never used)."""
    with pytest.raises(IdentityError, match="no subject alternative names"):
        identity_from_pem(_self_signed(None), trust_domain=TD)


def test_certificate_without_spiffe_uri_is_rejected() -> None:
    """A certificate with only DNS names, or a non-SPIFFE URI, names nobody."""
    with pytest.raises(IdentityError, match="found 0"):
        identity_from_pem(_self_signed([x509.DNSName("customs.border.nz")]), trust_domain=TD)
    with pytest.raises(IdentityError, match="not a SPIFFE ID"):
        identity_from_pem(
            _self_signed([x509.UniformResourceIdentifier(f"https://{TD}/agency/customs")]), trust_domain=TD
        )


def test_certificate_with_two_uri_sans_is_rejected() -> None:
    """Two URI SANs would make the identity ambiguous, so the certificate is refused outright."""
    pem = _self_signed(
        [
            x509.UniformResourceIdentifier(f"spiffe://{TD}/agency/customs"),
            x509.UniformResourceIdentifier(f"spiffe://{TD}/agency/nzsis"),
        ]
    )
    with pytest.raises(IdentityError, match="exactly one URI SAN"):
        identity_from_pem(pem, trust_domain=TD)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/agency",
        "/agency/",
        "/agency/Customs",
        "/agency/customs/extra",
        "/agency/../gateway",
        "/gateway/customs",
        "/admin/root",
        "/agency/customs?x=1",
    ],
)
def test_spiffe_ids_outside_our_scheme_are_rejected(path: str) -> None:
    """Only /agency/<name>, /adapter/<name>, /auditor/<name> and /gateway are identities."""
    pem = _self_signed([x509.UniformResourceIdentifier(f"spiffe://{TD}{path}")])
    with pytest.raises(IdentityError, match="does not name a fedgate identity"):
        identity_from_pem(pem, trust_domain=TD)


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n-----END CERTIFICATE-----\n",
    ],
)
def test_garbage_pem_raises_identity_error(pem: bytes) -> None:
    """Unparseable input raises IdentityError, never a cryptography exception."""
    with pytest.raises(IdentityError, match=r"not a PEM X\.509 certificate"):
        identity_from_pem(pem, trust_domain=TD)


def _armour(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


_SAMPLE_DER = x509.load_pem_x509_certificate(
    CertificateAuthority.create(trust_domain=TD).issue("agency", "customs").cert_pem
).public_bytes(serialization.Encoding.DER)


@given(st.one_of(st.binary(max_size=2048), st.binary(max_size=2048).map(_armour)))
def test_arbitrary_bytes_only_ever_raise_identity_error(data: bytes) -> None:
    """For arbitrary input, raw or PEM-armoured, the only possible failure is IdentityError."""
    with contextlib.suppress(IdentityError):
        identity_from_pem(data, trust_domain=TD)


# cryptography warns (rather than fails) on a non-positive serial number, which a
# flipped byte can produce; the warning says a future release will raise instead.
@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
@given(st.integers(0, len(_SAMPLE_DER) - 1), st.integers(1, 255))
def test_corrupted_certificate_only_ever_raises_identity_error(index: int, flip: int) -> None:
    """A real certificate with any one byte corrupted parses or raises IdentityError, nothing else."""
    corrupted = bytearray(_SAMPLE_DER)
    corrupted[index] ^= flip
    with contextlib.suppress(IdentityError):
        identity_from_pem(_armour(bytes(corrupted)), trust_domain=TD)


def test_repeated_lookups_reuse_the_parsed_identity(ca: CertificateAuthority) -> None:
    """The same certificate bytes give the same cached identity object on every request."""
    pem = ca.issue("agency", "maritime").cert_pem
    first = identity_from_pem(pem, trust_domain=TD)
    assert identity_from_pem(pem, trust_domain=TD) is first
    # The cache is keyed by trust domain too: the same bytes are not ours elsewhere.
    with pytest.raises(IdentityError):
        identity_from_pem(pem, trust_domain="other.example")


def test_empty_trust_domain_is_a_configuration_error() -> None:
    """A misconfigured empty trust domain raises ValueError instead of matching 'spiffe:///...'."""
    pem = _self_signed([x509.UniformResourceIdentifier("spiffe:///agency/customs")])
    with pytest.raises(ValueError, match="invalid trust domain"):
        identity_from_pem(pem, trust_domain="")
