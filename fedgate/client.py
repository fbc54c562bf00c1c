"""A lookup client for agency systems and scripts: their certificate, the gateway's answer."""

from __future__ import annotations

from pathlib import Path

import grpc

from fedgate.tls import channel_credentials
from fedgate.v1 import gateway_pb2, gateway_pb2_grpc

__all__ = ["LookupClient"]


class LookupClient:
    """An mTLS channel to the gateway; use as an async context manager."""

    def __init__(
        self, target: str, *, ca: Path, cert: Path, key: Path, server_name: str | None = None
    ) -> None:
        options: list[tuple[str, str]] = []
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        self._channel = grpc.aio.secure_channel(target, channel_credentials(ca, cert, key), options=options)
        stub: gateway_pb2_grpc.FederatedLookupServiceAsyncStub
        stub = gateway_pb2_grpc.FederatedLookupServiceStub(self._channel)
        self._stub = stub

    async def lookup(
        self, request: gateway_pb2.LookupRequest, *, timeout_s: float = 5.0
    ) -> gateway_pb2.LookupResponse:
        return await self._stub.Lookup(request, timeout=timeout_s)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> LookupClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
