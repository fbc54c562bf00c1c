"""The sector certificate authority: create a CA and issue every certificate fedgate uses.

``init_pki`` writes a complete directory for a deployment or a demo: one CA, the
gateway, one client certificate per agency system, one server certificate per
agency adapter, and client certificates for auditors. ``CertificateAuthority``
is the lower level it uses, kept public so tests and operators can issue extra
certificates (expired, not yet valid, for a new auditor) from an existing CA
directory, and sign a CRL.

What goes in each certificate (design step 1; the SPIFFE naming scheme itself is
``fedgate.identity``)::

    kind     EKU                    URI SAN                          DNS / IP SANs
    gateway  serverAuth+clientAuth  spiffe://<td>/gateway            gateway.<td>, localhost, 127.0.0.1, ::1
    agency   clientAuth             spiffe://<td>/agency/<name>      -
    adapter  serverAuth             spiffe://<td>/adapter/<name>     <name>.adapter.<td>, localhost, 127.0.0.1
    auditor  clientAuth             spiffe://<td>/auditor/<name>     -

The gateway is the server for agency systems and the client of the adapters,
hence both EKUs. It reaches an adapter with ``<name>.adapter.<td>`` as the TLS
target name (``fedgate.tls.channel_options_for_adapter``), so an adapter
presenting another agency's certificate fails the handshake.

Revocation: ``init_pki`` writes an empty CRL (``crl.pem``, current for
``CRL_VALIDITY``); ``update_crl`` (``fedgate pki revoke``) adds serials to it
and re-signs it. Checking peers against it is ``fedgate.revocation``.

Pure ``cryptography``: no gRPC import. IO is limited to ``init_pki``,
``CertificateAuthority.load``/``save``, ``IssuedCertificate.write``,
``issue_crl`` and ``update_crl``. Private keys are unencrypted ECDSA P-256 PEM
files (gRPC cannot read encrypted ones) protected by file mode 0600 in 0700
directories; keeping the CA key offline or in an HSM is an operator's job, not
this module's. Not here: revocation checking, name constraints on the CA, key
rotation.

Errors::

    PKIError        bad name or trust domain, refused overwrite, unreadable CA files
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedgate.identity import DEFAULT_TRUST_DOMAIN, NAME_PATTERN, TRUST_DOMAIN_PATTERN, spiffe_id
from fedgate.model import AGENCIES

__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "CRL_VALIDITY",
    "DEFAULT_TRUST_DOMAIN",
    "DEFAULT_VALIDITY_DAYS",
    "CertKind",
    "CertPaths",
    "CertificateAuthority",
    "IssuedCertificate",
    "PKIError",
    "PKILayout",
    "adapter_dns_name",
    "init_pki",
    "update_crl",
]

CertKind = Literal["gateway", "agency", "adapter", "auditor"]

#: Days a certificate is valid by default: the CA/Browser Forum's former
#: 825-day ceiling for TLS certificates, a common private-PKI default.
DEFAULT_VALIDITY_DAYS: Final = 825

#: Certificates start this far in the past so that a peer whose clock runs a
#: little behind does not reject a certificate issued a moment ago.
CLOCK_SKEW_ALLOWANCE: Final = dt.timedelta(minutes=5)

#: How long a CRL is current before the next must be issued.
CRL_VALIDITY: Final = dt.timedelta(days=7)

_DEFAULT_CA_NAME: Final = "fedgate sector CA"
_PRIVATE_DIR_MODE: Final = 0o700
_PRIVATE_FILE_MODE: Final = 0o600
_PUBLIC_FILE_MODE: Final = 0o644

_EKUS: Final[dict[CertKind, tuple[x509.ObjectIdentifier, ...]]] = {
    "gateway": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
    "agency": (ExtendedKeyUsageOID.CLIENT_AUTH,),
    "adapter": (ExtendedKeyUsageOID.SERVER_AUTH,),
    "auditor": (ExtendedKeyUsageOID.CLIENT_AUTH,),
}


class PKIError(Exception):
    """A name, trust domain, directory or CA file the PKI cannot work with; the message says which."""


@dataclass(frozen=True)
class CertPaths:
    """Where one certificate and its private key live."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class IssuedCertificate:
    """A freshly issued certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed certificate."""
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def serial_number(self) -> int:
        """The certificate's serial number, as a CRL names it."""
        return self.certificate.serial_number

    def write(self, directory: Path) -> CertPaths:
        """Write ``cert.pem`` and ``key.pem`` (mode 0600) into ``directory`` (created 0700)."""
        _make_private_dir(directory)
        paths = CertPaths(cert=directory / "cert.pem", key=directory / "key.pem")
        _write_file(paths.key, self.key_pem, _PRIVATE_FILE_MODE)
        _write_file(paths.cert, self.cert_pem, _PUBLIC_FILE_MODE)
        return paths


@dataclass(frozen=True)
class PKILayout:
    """The files ``init_pki`` wrote under ``root``; also usable to point at an existing directory."""

    root: Path
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    agencies: tuple[str, ...] = AGENCIES
    auditors: tuple[str, ...] = ("oversight",)

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def crl(self) -> Path:
        """The CA's certificate revocation list (PEM); ``init_pki`` writes an empty one."""
        return self.root / "crl.pem"

    @property
    def gateway(self) -> CertPaths:
        return _cert_paths(self.root / "gateway")

    def agency_client(self, agency: str) -> CertPaths:
        """The client certificate of ``agency``'s systems."""
        return _cert_paths(self.root / "agencies" / _known(agency, self.agencies, "agency"))

    def adapter_server(self, agency: str) -> CertPaths:
        """The server certificate of ``agency``'s adapter."""
        return _cert_paths(self.root / "adapters" / _known(agency, self.agencies, "agency"))

    def auditor(self, name: str) -> CertPaths:
        """The client certificate of auditor ``name``."""
        return _cert_paths(self.root / "auditors" / _known(name, self.auditors, "auditor"))

    def certificate_authority(self) -> CertificateAuthority:
        """Load the CA (including its private key) from this layout."""
        return CertificateAuthority.load(self.ca_cert, self.ca_key)


class CertificateAuthority:
    """A self-signed CA (ECDSA P-256) that issues fedgate's leaf certificates for one trust domain."""

    def __init__(
        self, certificate: x509.Certificate, private_key: ec.EllipticCurvePrivateKey, trust_domain: str
    ) -> None:
        _check_trust_domain(trust_domain)
        if certificate.public_key() != private_key.public_key():
            raise PKIError("CA private key does not match the CA certificate")
        self.certificate = certificate
        self.private_key = private_key
        self.trust_domain = trust_domain

    @classmethod
    def create(
        cls,
        common_name: str = _DEFAULT_CA_NAME,
        trust_domain: str = DEFAULT_TRUST_DOMAIN,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
    ) -> CertificateAuthority:
        """Make a new CA with a fresh key: CA:true with pathlen 0, signing certificates and CRLs only."""
        _check_trust_domain(trust_domain)
        _check_validity_days(validity_days)
        if not common_name or len(common_name) > 64:  # ub-common-name, RFC 5280
            raise PKIError("CA common name must be 1 to 64 characters")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedgate"),
            ]
        )
        not_before = _now() - CLOCK_SKEW_ALLOWANCE
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=validity_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            # The X.509-SVID spec lets a signing certificate carry the trust
            # domain's SPIFFE ID (no path); ``load`` reads the trust domain back from it.
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://{trust_domain}")]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, trust_domain)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """Load a CA written by ``save`` (or ``init_pki``); its trust domain comes from the certificate."""
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as exc:
            raise PKIError(f"cannot read CA file: {exc}") from exc
        except (ValueError, TypeError) as exc:
            # TypeError: the key is encrypted; we never write encrypted keys.
            raise PKIError(f"CA files {cert_path} / {key_path} are not a PEM certificate and key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PKIError(f"CA key {key_path} is not an ECDSA key")
        return cls(cert, key, _trust_domain_of_ca(cert, cert_path))

    def save(self, cert_path: Path, key_path: Path) -> None:
        """Write the CA certificate (0644) and private key (0600)."""
        _write_file(key_path, _key_pem(self.private_key), _PRIVATE_FILE_MODE)
        _write_file(cert_path, self.cert_pem, _PUBLIC_FILE_MODE)

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        kind: CertKind,
        name: str,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
    ) -> IssuedCertificate:
        """Issue a leaf certificate of ``kind`` for ``name`` with a fresh P-256 key.

        ``not_before`` defaults to now less ``CLOCK_SKEW_ALLOWANCE``; ``not_after`` to
        ``validity_days`` later, cut to the CA's own expiry. Explicit dates are used as
        given (even in the past), so tests can make expired or not-yet-valid certificates.
        For ``"gateway"`` the name must be ``"gateway"``.
        """
        if kind not in _EKUS:
            raise PKIError(f"unknown certificate kind {kind!r}; expected one of {sorted(_EKUS)}")
        if kind == "gateway":
            if name != "gateway":
                raise PKIError(f"a gateway certificate is named 'gateway', not {name!r}")
        else:
            _check_name(name, kind)
        _check_validity_days(validity_days)
        if not_before is None:
            not_before = _now() - CLOCK_SKEW_ALLOWANCE
        if not_after is None:
            not_after = min(
                not_before + dt.timedelta(days=validity_days), self.certificate.not_valid_after_utc
            )
        if not_after <= not_before:
            raise PKIError("certificate not_after must be later than not_before")

        td = self.trust_domain
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(spiffe_id(kind, name, td))]
        if kind == "gateway":
            sans += [
                x509.DNSName(f"gateway.{td}"),
                x509.DNSName("localhost"),
                x509.IPAddress(IPv4Address("127.0.0.1")),
                x509.IPAddress(IPv6Address("::1")),
            ]
            subject = _name("fedgate gateway", "fedgate")
        elif kind == "adapter":
            sans += [
                x509.DNSName(adapter_dns_name(name, td)),
                x509.DNSName("localhost"),
                x509.IPAddress(IPv4Address("127.0.0.1")),
            ]
            subject = _name(f"{name} adapter", name)
        elif kind == "agency":
            subject = _name(f"{name} agency system", name)
        else:
            subject = _name(f"{name} auditor", name)

        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(_EKUS[kind])), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .sign(self.private_key, hashes.SHA256())
        )
        return IssuedCertificate(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key)
        )

    def issue_crl(
        self,
        revoked_serials: Iterable[int],
        path: Path,
        *,
        crl_number: int | None = None,
        validity: dt.timedelta = CRL_VALIDITY,
        revoked_at: Mapping[int, dt.datetime] | None = None,
    ) -> x509.CertificateRevocationList:
        """Sign a CRL revoking ``revoked_serials``, write it to ``path`` as PEM, and return it.

        ``crl_number`` defaults to the current time in microseconds, which keeps it
        increasing across CRLs from one CA as RFC 5280 requires. The CRL is current
        for ``validity`` (its nextUpdate); a serial's revocation date is taken from
        ``revoked_at`` when given there, else now.
        """
        if validity <= dt.timedelta(0):
            raise PKIError("CRL validity must be positive")
        now = _now()
        number = crl_number if crl_number is not None else time.time_ns() // 1000
        dates = revoked_at or {}
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + validity)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
        )
        for serial in sorted(set(revoked_serials)):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dates.get(serial, now))
                .build()
            )
        crl = builder.sign(self.private_key, hashes.SHA256())
        _write_file(path, crl.public_bytes(serialization.Encoding.PEM), _PUBLIC_FILE_MODE)
        return crl


def adapter_dns_name(agency: str, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> str:
    """The DNS name in ``agency``'s adapter certificate, ``<agency>.adapter.<trust_domain>``."""
    _check_name(agency, "agency")
    _check_trust_domain(trust_domain)
    return f"{agency}.adapter.{trust_domain}"


def update_crl(
    layout: PKILayout,
    *,
    revoke: Iterable[int] = (),
    validity: dt.timedelta = CRL_VALIDITY,
) -> x509.CertificateRevocationList:
    """Re-sign ``layout.crl`` with the layout's CA, adding the serials in ``revoke``.

    Entries already on the CRL are kept with their revocation dates; the existing
    CRL must be signed by this CA (a missing one counts as empty). The new CRL's
    number is above the old one's, and it is current for ``validity``. With nothing
    to add this just renews the CRL before its nextUpdate.
    """
    ca = layout.certificate_authority()
    previous: dict[int, dt.datetime] = {}
    previous_number = -1
    if layout.crl.exists():
        try:
            old = x509.load_pem_x509_crl(layout.crl.read_bytes())
        except OSError as exc:
            raise PKIError(f"cannot read CRL {layout.crl}: {exc.strerror}") from None
        except ValueError:
            raise PKIError(f"{layout.crl} does not hold a PEM CRL; move it away to start afresh") from None
        ca_key = ca.certificate.public_key()
        assert isinstance(ca_key, ec.EllipticCurvePublicKey)  # CertificateAuthority holds an EC key
        if old.issuer != ca.certificate.subject or not old.is_signature_valid(ca_key):
            raise PKIError(f"CRL {layout.crl} is not signed by the CA {layout.ca_cert}")
        previous = {entry.serial_number: entry.revocation_date_utc for entry in old}
        with contextlib.suppress(x509.ExtensionNotFound):
            previous_number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    serials = set(previous)
    for serial in revoke:
        if serial < 1:
            raise PKIError(f"a certificate serial number is a positive integer, not {serial}")
        serials.add(serial)
    number = max(previous_number + 1, time.time_ns() // 1000)
    return ca.issue_crl(serials, layout.crl, crl_number=number, validity=validity, revoked_at=previous)


def init_pki(
    directory: Path,
    *,
    trust_domain: str = DEFAULT_TRUST_DOMAIN,
    agencies: Sequence[str] = AGENCIES,
    auditors: Sequence[str] = ("oversight",),
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    force: bool = False,
) -> PKILayout:
    """Create a new CA and every certificate a deployment needs under ``directory``.

    Refuses a non-empty ``directory`` unless ``force``; with ``force``, files of the
    same name are replaced (atomically) and other files are left alone.
    """
    _check_trust_domain(trust_domain)
    _check_validity_days(validity_days)
    for agency in agencies:
        _check_name(agency, "agency")
    for auditor in auditors:
        _check_name(auditor, "auditor")
    for label, names in (("agency", agencies), ("auditor", auditors)):
        if len(set(names)) != len(names):
            raise PKIError(f"duplicate {label} names in {list(names)}")

    if directory.exists():
        if not directory.is_dir():
            raise PKIError(f"{directory} exists and is not a directory")
        if any(directory.iterdir()) and not force:
            raise PKIError(
                f"{directory} is not empty; refusing to overwrite an existing PKI (use force to replace it)"
            )
    _make_private_dir(directory)

    layout = PKILayout(
        root=directory, trust_domain=trust_domain, agencies=tuple(agencies), auditors=tuple(auditors)
    )
    ca = CertificateAuthority.create(trust_domain=trust_domain, validity_days=validity_days)
    ca.save(layout.ca_cert, layout.ca_key)
    ca.issue_crl((), layout.crl)
    ca.issue("gateway", "gateway", validity_days=validity_days).write(layout.gateway.cert.parent)
    # Intermediate directories too: ``mkdir(parents=True)`` would give them the umask's mode.
    for group in ("agencies", "adapters", "auditors"):
        _make_private_dir(directory / group)
    for agency in layout.agencies:
        ca.issue("agency", agency, validity_days=validity_days).write(
            layout.agency_client(agency).cert.parent
        )
        ca.issue("adapter", agency, validity_days=validity_days).write(
            layout.adapter_server(agency).cert.parent
        )
    for auditor in layout.auditors:
        ca.issue("auditor", auditor, validity_days=validity_days).write(layout.auditor(auditor).cert.parent)
    return layout


# -- helpers ---------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_paths(directory: Path) -> CertPaths:
    return CertPaths(cert=directory / "cert.pem", key=directory / "key.pem")


def _check_name(name: str, label: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PKIError(
            f"invalid {label} name {name!r}: use 1 to 32 characters, a lower-case letter "
            "then lower-case letters, digits, '-' or '_'"
        )


def _check_trust_domain(trust_domain: str) -> None:
    if not isinstance(trust_domain, str) or not TRUST_DOMAIN_PATTERN.fullmatch(trust_domain):
        raise PKIError(
            f"invalid trust domain {trust_domain!r}: "
            "must be a lower-case DNS name such as 'fedgate.border.nz'"
        )


def _check_validity_days(days: int) -> None:
    if days < 1:
        raise PKIError(f"validity_days must be at least 1, not {days}")


def _known(name: str, known: tuple[str, ...], label: str) -> str:
    _check_name(name, label)
    if name not in known:
        raise PKIError(f"no {label} {name!r} in this PKI layout; it has {list(known)}")
    return name


def _trust_domain_of_ca(cert: x509.Certificate, cert_path: Path) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise PKIError(f"CA certificate {cert_path} names no trust domain (no SPIFFE URI SAN)") from None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("spiffe://")]
    if len(uris) != 1 or "/" in uris[0].removeprefix("spiffe://"):
        raise PKIError(f"CA certificate {cert_path} must carry exactly one path-less SPIFFE ID")
    return uris[0].removeprefix("spiffe://")


def _make_private_dir(directory: Path) -> None:
    directory.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for existing directories.
    directory.chmod(_PRIVATE_DIR_MODE)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, with exactly ``mode`` from the first byte."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have narrowed ``mode``
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
