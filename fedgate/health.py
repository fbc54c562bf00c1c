"""Keep the standard gRPC health service in step with readiness checks.

Both the gateway and the adapters report ``SERVING`` only while every check passes (gateway:
the audit store is writable and holds the log's current key, the log key file is still
there, the group committer runs, the policy engine decides with the loaded bundle; adapter:
the agency database answers), re-run every few seconds, and ``NOT_SERVING`` once shutdown
begins. Synchronous checks run in a worker thread; asynchronous ones on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
        extra_checks: Mapping[str, Callable[[], None]] | None = None,
        async_checks: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        self._servicer = servicer
        self._names = ("", *service_names)
        self._check = check
        self._extra = dict(extra_checks or {})
        self._async = dict(async_checks or {})
        self._component = component
        self._executor = executor
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        """Run every check once and publish the result; return whether all passed."""
        loop = asyncio.get_running_loop()
        checks: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("store", lambda: loop.run_in_executor(self._executor, self._check)),
            *((name, _in_thread(loop, self._executor, fn)) for name, fn in self._extra.items()),
            *self._async.items(),
        ]
        status: int = health_pb2.HealthCheckResponse.SERVING
        for name, check in checks:
            try:
                await check()
            except Exception as exc:
                _log.warning(
                    "health.check_failed", component=self._component, check=name, error=type(exc).__name__
                )
                status = health_pb2.HealthCheckResponse.NOT_SERVING
                break
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


def _in_thread(
    loop: asyncio.AbstractEventLoop, executor: Executor | None, fn: Callable[[], None]
) -> Callable[[], Awaitable[None]]:
    return lambda: loop.run_in_executor(executor, fn)
