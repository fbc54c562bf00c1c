"""Mutual-TLS credentials for fedgate's gRPC servers and channels, loaded from PEM files.

Every server fedgate runs (the gateway, each adapter) requires and verifies a
client certificate against the sector CA; there is deliberately no switch to
turn that off. Every channel presents a client certificate and verifies the
server against the same CA. A channel to an adapter also pins the adapter's
name (``channel_options_for_adapter``): gRPC checks the server certificate's
DNS SANs against ``<agency>.adapter.<trust-domain>``, so the customs channel
refuses a server holding the police adapter's certificate, whatever address it
dialled.

Files are read and checked here (present, PEM, key matching certificate) so a
misconfiguration fails at start-up with the file's name rather than as an
opaque handshake failure later. Not here: expiry checks (gRPC checks validity
during each handshake, and tests need expired certificates), CRLs (gRPC Python
takes none), certificate reloading, and insecure credentials of any kind.

Errors::

    TLSConfigError      a file is missing, unreadable, not PEM, or a key does not match its certificate
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from fedgate.identity import DEFAULT_TRUST_DOMAIN
from fedgate.pki import PKIError, adapter_dns_name

__all__ = [
    "MAX_PEM_FILE_BYTES",
    "TLSConfigError",
    "adapter_target_name",
    "channel_credentials",
    "channel_options_for_adapter",
    "server_credentials",
]

#: Refuse to read anything larger as a certificate or key file; real ones are a few KiB.
MAX_PEM_FILE_BYTES: Final = 1 << 20


class TLSConfigError(Exception):
    """A TLS file cannot be used; the message names the file and what is wrong with it."""


def server_credentials(cert: Path, key: Path, ca: Path) -> grpc.ServerCredentials:
    """Server credentials presenting ``cert``/``key`` and requiring a client certificate issued by ``ca``."""
    cert_pem, key_pem = _load_pair(cert, key)
    ca_pem = _load_certificates(ca, "CA certificate")
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=True
    )


def channel_credentials(ca: Path, cert: Path, key: Path) -> grpc.ChannelCredentials:
    """Channel credentials presenting ``cert``/``key`` and trusting only servers issued by ``ca``."""
    cert_pem, key_pem = _load_pair(cert, key)
    ca_pem = _load_certificates(ca, "CA certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem
    )


def adapter_target_name(agency: str, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> str:
    """The name an adapter's certificate must carry: ``<agency>.adapter.<trust_domain>``."""
    try:
        return adapter_dns_name(agency, trust_domain)
    except PKIError as exc:
        raise TLSConfigError(str(exc)) from exc


def channel_options_for_adapter(
    agency: str, trust_domain: str = DEFAULT_TRUST_DOMAIN
) -> list[tuple[str, Any]]:
    """Options that make a channel verify its server as ``agency``'s adapter, whatever address it dials."""
    name = adapter_target_name(agency, trust_domain)
    return [("grpc.ssl_target_name_override", name), ("grpc.default_authority", name)]


def _load_pair(cert: Path, key: Path) -> tuple[bytes, bytes]:
    cert_pem = _load_certificates(cert, "certificate")
    key_pem = _read(key, "private key")
    private_key = _parse_private_key(key_pem, key)
    leaf = x509.load_pem_x509_certificate(cert_pem)
    if leaf.public_key() != private_key.public_key():
        raise TLSConfigError(f"private key {key} does not match certificate {cert}")
    return cert_pem, key_pem


def _load_certificates(path: Path, what: str) -> bytes:
    data = _read(path, what)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TLSConfigError(f"{what} file {path} does not hold a PEM certificate") from None
    return data


def _parse_private_key(data: bytes, path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TLSConfigError(f"private key {path} is encrypted; gRPC needs an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSConfigError(f"private key file {path} does not hold a PEM private key") from None


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_PEM_FILE_BYTES:
            raise TLSConfigError(f"{what} file {path} is larger than {MAX_PEM_FILE_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise TLSConfigError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise TLSConfigError(f"cannot read {what} file {path}: {exc.strerror}") from None
