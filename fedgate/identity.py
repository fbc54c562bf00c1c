"""Who is calling: turn a verified peer certificate into a ``PeerIdentity``.

Design step 1 ("who is asking"): identity comes from the client certificate,
never from the request body. Every certificate the sector CA issues carries
exactly one URI SAN, a SPIFFE ID in our trust domain::

    spiffe://<trust-domain>/agency/<name>     an agency system (client)
    spiffe://<trust-domain>/adapter/<name>    an agency adapter (server)
    spiffe://<trust-domain>/auditor/<name>    an auditor or oversight body (client)
    spiffe://<trust-domain>/gateway           the gateway (server and client)

This module owns that naming scheme (``spiffe_id`` builds one, the parsers read
one back) and nothing else. It does not verify the certificate chain, validity
dates or key usages: gRPC has already done that during the TLS handshake (the
server always requires and verifies client certificates, see ``fedgate.tls``),
and this module must only be fed certificates from such a handshake. It does
not decide what an identity may do (that is policy), and it does not check an
agency name against ``fedgate.model.AGENCIES`` (an unknown agency is denied by
policy, with a reason). No gRPC import and no IO here.

Errors::

    IdentityError        the certificate does not name exactly one of our identities
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from cryptography import x509

__all__ = [
    "AUTH_CONTEXT_PEER_CERT_KEY",
    "DEFAULT_TRUST_DOMAIN",
    "IDENTITY_CACHE_SIZE",
    "NAME_PATTERN",
    "TRUST_DOMAIN_PATTERN",
    "IdentityError",
    "PeerIdentity",
    "Role",
    "identity_from_auth_context",
    "identity_from_pem",
    "spiffe_id",
]

#: The trust domain of the sector CA unless a deployment names another.
DEFAULT_TRUST_DOMAIN: Final = "fedgate.border.nz"

Role = Literal["agency", "adapter", "gateway", "auditor"]
# Path segment -> role, for the roles that carry a name after them.
_NAMED_ROLES: Final[Mapping[str, Role]] = {"agency": "agency", "adapter": "adapter", "auditor": "auditor"}

#: Agency, adapter and auditor names: short, lower-case, safe in a DNS label,
#: a file name and a SPIFFE path segment alike.
NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: A lower-case DNS name (RFC 1123 labels), as SPIFFE requires of trust domains.
TRUST_DOMAIN_PATTERN: Final = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)

#: Where gRPC Python's ``ServicerContext.auth_context()`` puts the peer's leaf certificate.
AUTH_CONTEXT_PEER_CERT_KEY: Final = "x509_pem_cert"

#: Parsed certificates kept; bounds memory, while the few dozen certificates a
#: deployment has all stay cached.
IDENTITY_CACHE_SIZE: Final = 1024

#: Longest SPIFFE ID echoed in an error message; the SPIFFE spec caps IDs at 2048 bytes.
_MAX_ECHOED_ID: Final = 200


class IdentityError(Exception):
    """A peer certificate is missing, unparseable, or does not name exactly one identity of ours.

    The message names the rule broken and at most the certificate's SPIFFE ID; it
    never echoes other certificate contents. The gateway maps it to ``UNAUTHENTICATED``.
    """


@dataclass(frozen=True)
class PeerIdentity:
    """A caller as its certificate names it: ``role`` and ``name`` parsed from ``spiffe_id``.

    For the gateway, ``name`` is ``"gateway"``.
    """

    role: Role
    name: str
    spiffe_id: str


def spiffe_id(role: Role, name: str, trust_domain: str) -> str:
    """Build the SPIFFE ID for ``role``/``name``; the inverse of ``identity_from_pem``.

    The caller validates ``name`` and ``trust_domain`` (``fedgate.pki`` does, and
    raises its own error); this only formats. For ``"gateway"``, ``name`` is ignored.
    """
    if role == "gateway":
        return f"spiffe://{trust_domain}/gateway"
    return f"spiffe://{trust_domain}/{role}/{name}"


def identity_from_pem(pem: bytes, *, trust_domain: str) -> PeerIdentity:
    """Return the identity named by the leaf certificate in ``pem``; raise ``IdentityError`` otherwise.

    A malformed ``trust_domain`` is a configuration error and raises ``ValueError``.

    Results are cached by the exact PEM bytes (bounded LRU): the gateway calls this
    on every request, and a given caller presents the same bytes every time.
    """
    return _identity_from_pem_cached(bytes(pem), trust_domain)


def identity_from_auth_context(
    auth_context: Mapping[str, Iterable[bytes]], *, trust_domain: str
) -> PeerIdentity:
    """Return the identity of the peer described by a gRPC ``auth_context()`` mapping.

    gRPC has already verified the certificate chain against the CA (servers built
    with ``fedgate.tls.server_credentials`` always require client certificates);
    this only reads the identity from the verified leaf.
    """
    values = list(auth_context.get(AUTH_CONTEXT_PEER_CERT_KEY, ()))
    if not values:
        raise IdentityError("no client certificate")
    if len(values) != 1:
        raise IdentityError(f"expected one peer certificate in the auth context, found {len(values)}")
    return identity_from_pem(values[0], trust_domain=trust_domain)


@functools.lru_cache(maxsize=IDENTITY_CACHE_SIZE)
def _identity_from_pem_cached(pem: bytes, trust_domain: str) -> PeerIdentity:
    # Errors are not cached (lru_cache only stores returns); that is fine, since
    # a certificate that fails here never passes a handshake twice in practice.
    if not TRUST_DOMAIN_PATTERN.fullmatch(trust_domain):
        # A configuration mistake, not the peer's: an empty trust domain would
        # otherwise accept ``spiffe:///agency/...``.
        raise ValueError(f"invalid trust domain {trust_domain!r}")
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except (ValueError, x509.InvalidVersion):
        raise IdentityError("peer certificate is not a PEM X.509 certificate") from None
    return _identity_from_certificate(cert, trust_domain)


def _identity_from_certificate(cert: x509.Certificate, trust_domain: str) -> PeerIdentity:
    # 1. Exactly one URI SAN (the X.509-SVID rule), and it is the SPIFFE ID.
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise IdentityError("peer certificate has no subject alternative names") from None
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        # cryptography parses extensions lazily; a malformed one surfaces here.
        raise IdentityError("peer certificate has malformed extensions") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise IdentityError(
            f"peer certificate must carry exactly one URI SAN (a SPIFFE ID), found {len(uris)}"
        )
    uri = uris[0]
    shown = repr(uri[:_MAX_ECHOED_ID])

    # 2. The SPIFFE ID is in our trust domain.
    if not uri.startswith("spiffe://"):
        raise IdentityError(f"URI SAN {shown} is not a SPIFFE ID")
    domain, _, path = uri.removeprefix("spiffe://").partition("/")
    if domain != trust_domain:
        raise IdentityError(f"SPIFFE ID {shown} is not in trust domain {trust_domain!r}")

    # 3. The path names one of our roles, and a well-formed name for it.
    segments = path.split("/")
    if segments == ["gateway"]:
        return PeerIdentity(role="gateway", name="gateway", spiffe_id=uri)
    if len(segments) == 2 and NAME_PATTERN.fullmatch(segments[1]):
        role = _NAMED_ROLES.get(segments[0])
        if role is not None:
            return PeerIdentity(role=role, name=segments[1], spiffe_id=uri)
    raise IdentityError(
        f"SPIFFE ID {shown} does not name a fedgate identity "
        "(expected /agency/<name>, /adapter/<name>, /auditor/<name> or /gateway)"
    )
