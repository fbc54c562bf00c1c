"""The one place where exceptions become gRPC statuses.

A :class:`gateway.errors.GatewayError` maps to its declared status with
``google.rpc`` details (``ErrorInfo``, and ``BadRequest`` naming the field for
``InvalidArgument``). Anything else becomes ``INTERNAL`` with a correlation id
and no internal detail; the exception is logged with that id (type only: an
exception message may carry data).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.errors import GatewayError, InvalidArgument

__all__ = ["ErrorMappingInterceptor", "status_for"]

_log = structlog.get_logger(__name__)

ERROR_DOMAIN = "fedgate.border.nz"


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def status_for(exc: GatewayError) -> grpc.Status:
    """The rich gRPC status for a gateway error."""
    details = [_pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN))]
    if isinstance(exc, InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=exc.field, description=exc.description
                        )
                    ]
                )
            )
        )
    code: int = exc.grpc_status_code.value[0]
    return rpc_status.to_status(status_pb2.Status(code=code, message=exc.message, details=details))


def _internal(correlation_id: str) -> grpc.Status:
    return rpc_status.to_status(
        status_pb2.Status(
            code=code_pb2.INTERNAL,
            message=f"internal error (correlation id {correlation_id})",
            details=[
                _pack(
                    error_details_pb2.ErrorInfo(
                        reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"correlation_id": correlation_id}
                    )
                )
            ],
        )
    )


Behaviour = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


class _Undecodable:
    """Stands for a request body that did not decode as the method's message."""

    __slots__ = ()


_UNDECODABLE = _Undecodable()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """grpc.aio decodes the body before any interceptor code runs and answers UNKNOWN, naming
    the exception class, when that fails (invalid UTF-8, a corrupt wire format). Decode here
    instead, so such a body is an INVALID_ARGUMENT like any other malformed request."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # DecodeError, or whatever the generated parser raises
            return _UNDECODABLE

    return deserialize


def _wrap(behaviour: Behaviour) -> Behaviour:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if request is _UNDECODABLE:
            await context.abort_with_status(
                status_for(InvalidArgument("request", "is not a valid message of this method's type"))
            )
        try:
            return await behaviour(request, context)
        except GatewayError as exc:
            await context.abort_with_status(status_for(exc))
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            correlation_id = uuid.uuid4().hex
            _log.error("rpc.internal_error", correlation_id=correlation_id, error=type(exc).__name__)
            await context.abort_with_status(_internal(correlation_id))

    return wrapped


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        if handler.unary_stream is not None:
            # Streaming handlers here are coroutines that write with ``context.write`` (the
            # manifest screening), so the same wrapper maps their errors.
            return grpc.unary_stream_rpc_method_handler(
                _wrap(handler.unary_stream),  # type: ignore[arg-type]
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _wrap(handler.unary_unary),  # type: ignore[arg-type]  # aio handlers are coroutines
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
