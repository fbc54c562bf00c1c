"""Errors the gateway raises, each declaring the gRPC status it maps to.

::

    GatewayError                    (INTERNAL)
    ├── InvalidArgument             (INVALID_ARGUMENT)  names the offending field
    ├── Unauthenticated             (UNAUTHENTICATED)   no usable client identity
    ├── PermissionDenied            (PERMISSION_DENIED) identity known, not allowed here
    └── ServiceUnavailable          (UNAVAILABLE)       a dependency (audit store, policy bundle) is down

One interceptor (``gateway.interceptors``) turns these into gRPC statuses with
``google.rpc`` details; anything else becomes ``INTERNAL`` with a correlation id
and no internal detail. Messages must never contain personal data: name the
field and the rule broken, never echo the value.
"""

from __future__ import annotations

import grpc

__all__ = [
    "GatewayError",
    "InvalidArgument",
    "PermissionDenied",
    "ServiceUnavailable",
    "Unauthenticated",
]


class GatewayError(Exception):
    """Base class; unexpected subclasses surface as INTERNAL."""

    grpc_status_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(GatewayError):
    """The request is malformed; ``field`` is its path, e.g. ``subject.identifiers[0].passport.number``."""

    grpc_status_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.description = message


class Unauthenticated(GatewayError):
    grpc_status_code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(GatewayError):
    grpc_status_code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class ServiceUnavailable(GatewayError):
    grpc_status_code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"
