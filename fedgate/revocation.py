"""Certificate revocation: a CRL file from the sector CA, checked by fedgate itself.

gRPC Python takes no CRL (``ssl_server_credentials`` has no such option), so the
TLS handshake accepts any unexpired certificate of our CA; every server then asks
a ``RevocationList`` about the verified peer certificate before doing anything
for it (the gateway's lookup and audit services, each adapter).

The CRL is the PEM file ``fedgate pki revoke`` writes (``fedgate.pki.update_crl``).
``RevocationList.load`` refuses, with a ``CRLError`` naming the file, a CRL that is
unreadable, not PEM, not signed by the configured CA, without a nextUpdate, not yet
valid, or past its nextUpdate; so a misconfigured server does not start.

While running, each ``check`` looks at the file's identity (mtime, size, inode) and
reloads it when it changed, so an operator revokes without a restart. Failing
closed throughout: a changed file that no longer loads (unreadable, not signed by
the CA, expired, an older CRL number than the one in use), or a loaded CRL whose
nextUpdate has passed, makes every ``check`` raise ``CRLError`` until a good CRL
is in place. Nothing is cached across a failure: a CRL fixed on disk is picked up
at the next call.

No gRPC import. Errors::

    RevocationError         a peer must be refused (base class)
    ├── CertificateRevoked  the peer certificate's serial is on the CRL
    └── CRLError            the CRL cannot be used, so revocation status is unknown
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from fedgate.identity import AUTH_CONTEXT_PEER_CERT_KEY

__all__ = [
    "MAX_CRL_FILE_BYTES",
    "CRLError",
    "CertificateRevoked",
    "RevocationError",
    "RevocationList",
    "peer_certificate_pem",
]

_log = structlog.get_logger(__name__)

#: Refuse to read anything larger as a CRL; one entry is ~40 bytes, so this is ample.
MAX_CRL_FILE_BYTES: Final = 16 << 20

#: A CRL whose thisUpdate is at most this far in the future is still accepted (clock skew).
CLOCK_SKEW_ALLOWANCE: Final = dt.timedelta(minutes=5)

#: Parsed peer serial numbers kept (same bound as ``fedgate.identity``'s cache).
_SERIAL_CACHE_SIZE: Final = 1024


class RevocationError(Exception):
    """A peer must be refused because of revocation.

    ``public_message`` is what a server tells the peer: it names no certificate
    contents and no server file (``str(exc)`` may name the CRL file; log that).
    """

    public_message: str = "client certificate refused by the revocation check"


class CertificateRevoked(RevocationError):
    """The peer's certificate is on the CRL (``serial`` is its serial number, when it could be read)."""

    public_message = "client certificate has been revoked"

    def __init__(self, message: str, serial: int | None = None) -> None:
        super().__init__(message)
        self.serial = serial


class CRLError(RevocationError):
    """The CRL is unreadable, not the CA's, not yet valid or expired: revocation status is unknown."""

    public_message = "revocation status of the client certificate cannot be established"


@dataclass(frozen=True)
class _Loaded:
    """One CRL as read from disk, with the file identity it was read under."""

    stamp: tuple[int, int, int]  # (st_mtime_ns, st_size, st_ino) when read
    serials: frozenset[int]
    next_update: dt.datetime
    number: int | None


class RevocationList:
    """The sector CA's CRL at ``path``, reloaded when the file changes; see the module docstring."""

    def __init__(self, path: Path, ca_certificates: Iterable[x509.Certificate]) -> None:
        """Load ``path`` now; raise ``CRLError`` unless it is a current CRL of one of ``ca_certificates``."""
        self.path = path
        self._cas = tuple(ca_certificates)
        if not self._cas:
            raise CRLError("no CA certificate to verify the CRL against")
        self._lock = threading.Lock()
        self._failure: str | None = None  # why every peer is refused now; None while the CRL is usable
        self._failure_stamp: tuple[int, int, int] | None = None  # the file identity that failed to load
        loaded = self._read(minimum_number=None)
        if _now() > loaded.next_update:
            raise CRLError(_expired(path, loaded))
        self._current = loaded

    @classmethod
    def load(cls, crl_path: Path, ca_cert: Path | x509.Certificate) -> RevocationList:
        """Load the CRL at ``crl_path``, verified against the CA certificate (a PEM file, or parsed)."""
        if isinstance(ca_cert, x509.Certificate):
            return cls(crl_path, [ca_cert])
        try:
            cas = x509.load_pem_x509_certificates(ca_cert.read_bytes())
        except OSError as exc:
            raise CRLError(f"cannot read CA certificate {ca_cert}: {exc.strerror}") from None
        except ValueError:
            raise CRLError(f"CA certificate file {ca_cert} does not hold a PEM certificate") from None
        return cls(crl_path, cas)

    @property
    def revoked_serials(self) -> frozenset[int]:
        """The serial numbers on the CRL in use (empty while failing closed)."""
        return self._current.serials if self._failure is None else frozenset()

    def check(self, peer_cert_pem: bytes) -> None:
        """Return if the certificate in ``peer_cert_pem`` may be served; raise ``RevocationError`` if not.

        ``CertificateRevoked`` for a revoked serial; ``CRLError``, for every peer, while
        the CRL cannot be used. The certificate must come from a verified handshake.
        """
        loaded = self._usable()
        try:
            serial = _serial_of(bytes(peer_cert_pem))
        except ValueError:
            raise CertificateRevoked("peer certificate is not a PEM X.509 certificate") from None
        if serial in loaded.serials:
            raise CertificateRevoked(f"certificate serial {serial:#x} is on the CRL", serial)

    def check_auth_context(self, auth_context: Mapping[str, Iterable[bytes]]) -> None:
        """``check`` the peer certificate of a gRPC ``auth_context()``; no certificate is refused too."""
        self.check(peer_certificate_pem(auth_context))

    # -- internals -----------------------------------------------------------------------

    def _usable(self) -> _Loaded:
        """The current CRL, reloaded if the file changed; ``CRLError`` if it cannot be used."""
        with self._lock:
            loaded = self._reload_if_changed()
            if _now() > loaded.next_update:
                raise self._failed(loaded.stamp, _expired(self.path, loaded))
            if self._failure is not None:
                _log.warning("revocation.crl_recovered", crl=str(self.path))
                self._failure = self._failure_stamp = None
            return loaded

    def _reload_if_changed(self) -> _Loaded:
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            raise self._failed(None, f"cannot read CRL file {self.path}: {exc.strerror}") from None
        if stamp == self._current.stamp:
            return self._current
        if self._failure is not None and stamp == self._failure_stamp:
            raise CRLError(self._failure)  # the same bad file: do not parse it again
        try:
            loaded = self._read(minimum_number=self._current.number)
        except CRLError as exc:
            raise self._failed(stamp, str(exc)) from None
        self._current = loaded
        _log.info("revocation.crl_reloaded", crl=str(self.path), revoked=len(loaded.serials))
        return loaded

    def _failed(self, stamp: tuple[int, int, int] | None, message: str) -> CRLError:
        """Fail closed: remember why (logged once per distinct reason); return the error to raise."""
        if message != self._failure:
            _log.error("revocation.crl_unusable", crl=str(self.path), problem=message)
        self._failure, self._failure_stamp = message, stamp
        return CRLError(message)

    def _read(self, *, minimum_number: int | None) -> _Loaded:
        path = self.path
        try:
            stamp = _stamp(path)
            if stamp[1] > MAX_CRL_FILE_BYTES:
                raise CRLError(f"CRL file {path} is larger than {MAX_CRL_FILE_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise CRLError(f"cannot read CRL file {path}: {exc.strerror}") from None
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError:
            raise CRLError(f"CRL file {path} does not hold a PEM CRL") from None
        if not any(ca.subject == crl.issuer and _signed_by(crl, ca) for ca in self._cas):
            raise CRLError(f"CRL {path} is not signed by the configured CA")
        next_update = crl.next_update_utc
        if next_update is None:
            raise CRLError(f"CRL {path} has no nextUpdate")
        if crl.last_update_utc > _now() + CLOCK_SKEW_ALLOWANCE:
            raise CRLError(f"CRL {path} is not valid yet (thisUpdate in the future)")
        try:
            number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            number = None
        except ValueError:
            raise CRLError(f"CRL {path} has malformed extensions") from None
        if minimum_number is not None and (number is None or number < minimum_number):
            # An older CRL put back in place could drop a revocation: refuse it.
            raise CRLError(f"CRL {path} is older (lower CRL number) than the CRL in use")
        try:
            serials = frozenset(entry.serial_number for entry in crl)
        except ValueError:
            raise CRLError(f"CRL {path} has malformed entries") from None
        return _Loaded(stamp=stamp, serials=serials, next_update=next_update, number=number)


def peer_certificate_pem(auth_context: Mapping[str, Iterable[bytes]]) -> bytes:
    """The single leaf certificate of a gRPC ``auth_context()``; ``CertificateRevoked`` if there is none."""
    values = list(auth_context.get(AUTH_CONTEXT_PEER_CERT_KEY, ()))
    if len(values) != 1:
        raise CertificateRevoked("no single client certificate to check for revocation")
    return values[0]


def _signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    if not isinstance(
        key,
        ec.EllipticCurvePublicKey
        | rsa.RSAPublicKey
        | dsa.DSAPublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        return False
    return crl.is_signature_valid(key)


@functools.lru_cache(maxsize=_SERIAL_CACHE_SIZE)
def _serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _expired(path: Path, loaded: _Loaded) -> str:
    return (
        f"CRL {path} expired at {loaded.next_update.isoformat()} (its nextUpdate); "
        "issue a new one with 'fedgate pki revoke'"
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
