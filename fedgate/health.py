"""Keep the standard gRPC health service in step with a readiness check.

Both the gateway and the adapters report ``SERVING`` only while their check
passes (the audit journal is readable; the agency database answers), re-run
every few seconds in a worker thread, and ``NOT_SERVING`` once shutdown begins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import structlog
from grpc_health.v1 import health, health_pb2

__all__ = ["HealthWatch"]

_log = structlog.get_logger(__name__)

#: How often the check re-runs.
HEALTH_INTERVAL_S = 5.0


class HealthWatch:
    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        service_names: Sequence[str],
        check: Callable[[], None],
        *,
        component: str,
        executor: Executor | None = None,
        interval_s: float = HEALTH_INTERVAL_S,
    ) -> None:
        self._servicer = servicer
        self._names = ("", *service_names)
        self._check = check
        self._component = component
        self._executor = executor
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        """Run the check once and publish the result; return whether it passed."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._check)
            status: int = health_pb2.HealthCheckResponse.SERVING
        except Exception as exc:
            _log.warning("health.check_failed", component=self._component, error=type(exc).__name__)
            status = health_pb2.HealthCheckResponse.NOT_SERVING
        for name in self._names:
            await self._servicer.set(name, status)
        return status == health_pb2.HealthCheckResponse.SERVING

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.refresh()

    async def stop(self) -> None:
        """Stop checking and report NOT_SERVING to every watcher."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._servicer.enter_graceful_shutdown()
