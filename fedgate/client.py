"""A lookup client for agency systems and scripts: their certificate, the gateway's answer."""

from __future__ import annotations

from collections.abc import AsyncGenerator
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

    async def screen_manifest(
        self, request: gateway_pb2.ScreenManifestRequest, *, timeout_s: float | None = 120.0
    ) -> AsyncGenerator[gateway_pb2.ScreenManifestResponse, None]:
        """Each traveller's result as the gateway finishes it (completion order; match on ``item_id``).

        ``timeout_s`` is the deadline of the whole screening. Leaving the loop early cancels
        the travellers not yet screened; wrap the iterator in ``contextlib.aclosing`` to make
        that happen at once rather than when the iterator is collected. A whole-request
        problem raises ``grpc.aio.AioRpcError`` (``INVALID_ARGUMENT``) before any result.
        """
        call = self._stub.ScreenManifest(request, timeout=timeout_s)
        try:
            async for response in call:
                yield response
        finally:
            call.cancel()  # no-op once the stream has ended

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> LookupClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
